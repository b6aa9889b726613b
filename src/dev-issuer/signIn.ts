import { createHash, randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { DEV_API_CLIENT_ID, DEV_SPA_CLIENT_ID, DEV_TENANT_ID, DEV_USERS } from './constants.js';
import { OAuthError, readForm } from './http.js';
import { checkedUserName, devUserObjectId, type DevTokenMinter } from './tokens.js';

/*
 * Interactive sign-in for the storefront, shaped like Entra's v2 endpoints for a single-page app:
 * /authorize shows a page to pick a dev user (no passwords), the authorization code grant requires
 * PKCE (S256), and SPA refresh tokens rotate on use within a fixed 24 h lifetime. Codes and refresh
 * tokens live in memory: a restarted issuer simply asks the user to sign in again.
 */

const oidcScopes = new Set(['openid', 'profile', 'offline_access', 'email']);
const apiScopes = new Set([
  `api://${DEV_API_CLIENT_ID}/access_as_user`,
  `${DEV_API_CLIENT_ID}/access_as_user`,
  `api://${DEV_API_CLIENT_ID}/.default`,
  `${DEV_API_CLIENT_ID}/.default`,
]);
const knownRoles = new Set(['Products.Write', 'Orders.Read.All']);
const codeLifetimeMs = 10 * 60_000;
const refreshLifetimeMs = 24 * 3600_000;
const accessTokenSeconds = 3599;

interface Grant {
  clientId: string;
  user: string;
  roles: string[];
  /** Scopes as requested, each one OIDC or the API's. */
  scopes: string[];
  nonce?: string;
  expiresAt: number;
}

interface PendingCode extends Grant {
  redirectUri: string;
  codeChallenge: string;
}

/** A redirect URI the dev SPA registration accepts: any http(s) page on this machine, whatever its port (Entra's loopback rule). */
export function isLoopbackUrl(value: string | null | undefined): boolean {
  if (!value) return false;
  try {
    const url = new URL(value);
    return (url.protocol === 'http:' || url.protocol === 'https:') && ['localhost', '127.0.0.1', '[::1]'].includes(url.hostname);
  } catch {
    return false;
  }
}

const escapeHtml = (value: string) =>
  value.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

function sendHtml(res: ServerResponse, status: number, title: string, body: string): void {
  const page = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title>
<style>
body{font:16px/1.5 system-ui,sans-serif;margin:0;background:#f4f5f7;color:#1b1d21}
main{max-width:28rem;margin:2rem auto;padding:1.5rem;background:#fff;border-radius:8px;box-shadow:0 1px 3px #0003}
h1{font-size:1.4rem;margin-top:0}ul{list-style:none;padding:0}li{margin:.5rem 0}
button{font:inherit;width:100%;padding:.6rem;border:1px solid #0b5cad;border-radius:6px;background:#0b5cad;color:#fff;cursor:pointer}
button.secondary{background:#fff;color:#0b5cad}button:focus-visible,input:focus-visible{outline:3px solid #f2a900;outline-offset:2px}
fieldset{border:1px solid #c5c9d0;border-radius:6px;margin-top:1.5rem}label{display:block;margin:.5rem 0}
input[type=text]{font:inherit;width:100%;box-sizing:border-box;padding:.4rem;border:1px solid #6b7280;border-radius:4px}
.hint{color:#4b5563;font-size:.9rem}
</style></head><body><main>${body}</main></body></html>`;
  res.writeHead(status, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store', 'x-frame-options': 'DENY' });
  res.end(page);
}

/** Where and how to answer the client: its redirect URI with the parameters in the query or the fragment. */
function redirectWith(res: ServerResponse, redirectUri: string, responseMode: string, params: Record<string, string | undefined>): void {
  const url = new URL(redirectUri);
  const values = new URLSearchParams();
  for (const [name, value] of Object.entries(params)) if (value !== undefined) values.set(name, value);
  if (responseMode === 'fragment') url.hash = values.toString();
  else for (const [name, value] of values) url.searchParams.set(name, value);
  res.writeHead(302, { location: url.toString(), 'cache-control': 'no-store' }).end();
}

class AuthorizeError {
  constructor(
    readonly error: string,
    readonly description: string,
  ) {}
}

function checkScopes(scope: string | null): string[] {
  const scopes = (scope ?? '').split(' ').filter(Boolean);
  const unknown = scopes.find((s) => !oidcScopes.has(s) && !apiScopes.has(s));
  if (unknown !== undefined) {
    throw new AuthorizeError('invalid_scope', `AADSTS70011: The provided value for the input parameter 'scope' is not valid. The scope ${unknown.slice(0, 200)} does not exist in the dev tenant; ask for ${[...apiScopes][0]}.`);
  }
  return scopes;
}

export interface SignIn {
  /** GET shows the user picker; POST (the picker's form) issues a code and redirects back to the client. */
  authorize(req: IncomingMessage, res: ServerResponse): Promise<void>;
  /** The token endpoint's `authorization_code` and `refresh_token` grants: the response body. */
  redeem(grantType: string, form: URLSearchParams): Promise<Record<string, unknown>>;
  /** End of session: there is no issuer session to end, so it only returns to the client. */
  logout(req: IncomingMessage, res: ServerResponse): void;
}

export function createSignIn(minter: () => DevTokenMinter): SignIn {
  const codes = new Map<string, PendingCode>();
  const refreshTokens = new Map<string, Grant>();
  const forget = (store: Map<string, Grant>) => {
    const now = Date.now();
    for (const [key, grant] of store) if (grant.expiresAt <= now) store.delete(key);
  };

  const tokenResponse = async (grant: Grant): Promise<Record<string, unknown>> => {
    const oid = devUserObjectId(grant.user);
    const granted = grant.scopes.filter((s) => apiScopes.has(s));
    const response: Record<string, unknown> = {
      token_type: 'Bearer',
      // Entra answers a sign-in without a resource scope with a Microsoft Graph token; the dev tenant has only the API.
      scope: (granted.length > 0 ? granted : [`api://${DEV_API_CLIENT_ID}/access_as_user`]).join(' '),
      expires_in: accessTokenSeconds,
      ext_expires_in: accessTokenSeconds,
      access_token: await minter().mintUserToken({
        user: grant.user,
        roles: grant.roles,
        scopes: ['access_as_user'],
        clientId: grant.clientId,
        expiresInSeconds: accessTokenSeconds + 1,
      }),
      // MSAL keys its account cache on client_info, as Entra sends it.
      client_info: Buffer.from(JSON.stringify({ uid: oid, utid: DEV_TENANT_ID })).toString('base64url'),
    };
    if (grant.scopes.includes('openid')) {
      response.id_token = await minter().mintIdToken({ user: grant.user, clientId: grant.clientId, nonce: grant.nonce });
    }
    if (grant.scopes.includes('offline_access')) {
      forget(refreshTokens);
      const refreshToken = randomBytes(32).toString('base64url');
      refreshTokens.set(refreshToken, { ...grant, nonce: undefined });
      response.refresh_token = refreshToken;
      response.refresh_token_expires_in = Math.max(0, Math.floor((grant.expiresAt - Date.now()) / 1000));
    }
    return response;
  };

  const authorize: SignIn['authorize'] = async (req, res) => {
    const params = req.method === 'POST' ? await readForm(req) : new URL(req.url ?? '/', 'http://localhost').searchParams;
    const clientId = params.get('client_id');
    const redirectUri = params.get('redirect_uri');
    // Like Entra: an unknown client or redirect URI is shown to the person, never redirected to.
    if (clientId !== DEV_SPA_CLIENT_ID) {
      return sendHtml(res, 400, 'Sign-in error', `<h1>Sign-in error</h1><p>AADSTS700016: Application with identifier '${escapeHtml((clientId ?? '').slice(0, 64))}' was not found in the dev tenant. The storefront's client id is ${DEV_SPA_CLIENT_ID}.</p>`);
    }
    if (!isLoopbackUrl(redirectUri)) {
      return sendHtml(res, 400, 'Sign-in error', `<h1>Sign-in error</h1><p>AADSTS50011: The redirect URI '${escapeHtml((redirectUri ?? '').slice(0, 200))}' does not match the redirect URIs configured for the application: any http(s) page on localhost.</p>`);
    }
    const responseMode = params.get('response_mode') === 'query' ? 'query' : 'fragment';
    const state = params.get('state') ?? undefined;
    try {
      if (params.get('response_type') !== 'code') {
        throw new AuthorizeError('unsupported_response_type', 'AADSTS700054: The dev issuer supports response_type=code only (authorization code with PKCE).');
      }
      const codeChallenge = params.get('code_challenge');
      if (!codeChallenge) throw new AuthorizeError('invalid_request', 'AADSTS9002325: Proof Key for Code Exchange is required for cross-origin authorization code redemption.');
      if (params.get('code_challenge_method') !== 'S256') throw new AuthorizeError('invalid_request', 'AADSTS501491: code_challenge_method must be S256.');
      const scopes = checkScopes(params.get('scope'));
      // No issuer session exists, so a silent request (hidden iframe) always needs the person.
      if (params.get('prompt') === 'none') throw new AuthorizeError('login_required', 'AADSTS50058: A silent sign-in request was sent but no user is signed in.');

      if (req.method !== 'POST') return showPicker(res, params);
      let user: string;
      try {
        user = checkedUserName(params.get('user') ?? '');
      } catch {
        return showPicker(res, params, 'A user name is 1-64 letters, digits, dots, dashes or underscores.');
      }
      const preset = DEV_USERS.find((u) => u.name === user);
      const roles = preset ? [...preset.roles] : params.getAll('role').filter((r) => knownRoles.has(r));
      const code = randomBytes(32).toString('base64url');
      codes.set(code, {
        clientId,
        redirectUri: redirectUri!,
        codeChallenge,
        user,
        roles,
        scopes,
        nonce: params.get('nonce') ?? undefined,
        expiresAt: Date.now() + codeLifetimeMs,
      });
      redirectWith(res, redirectUri!, responseMode, { code, state, client_info: Buffer.from(JSON.stringify({ uid: devUserObjectId(user), utid: DEV_TENANT_ID })).toString('base64url') });
    } catch (error) {
      if (!(error instanceof AuthorizeError)) throw error;
      redirectWith(res, redirectUri!, responseMode, { error: error.error, error_description: error.description, state });
    }
  };

  const redeem: SignIn['redeem'] = async (grantType, form) => {
    const clientId = form.get('client_id');
    if (clientId !== DEV_SPA_CLIENT_ID) {
      throw new OAuthError(400, 'unauthorized_client', 700016, `Application with identifier '${(clientId ?? '').slice(0, 64)}' was not found in the directory '${DEV_TENANT_ID}'.`);
    }
    if (grantType === 'authorization_code') {
      const code = form.get('code') ?? '';
      const pending = codes.get(code);
      codes.delete(code); // a code is redeemed once, whatever the outcome
      if (!pending || pending.clientId !== clientId) throw new OAuthError(400, 'invalid_grant', 70000, 'Provided grant is invalid or malformed.');
      if (pending.expiresAt <= Date.now()) throw new OAuthError(400, 'invalid_grant', 70008, 'The provided authorization code or refresh token has expired due to inactivity.');
      if (form.get('redirect_uri') !== pending.redirectUri) throw new OAuthError(400, 'invalid_grant', 50148, 'The redirect_uri is not the one the authorization code was issued for.');
      const verifier = form.get('code_verifier');
      if (!verifier) throw new OAuthError(400, 'invalid_request', 900144, "The request body must contain the following parameter: 'code_verifier'.");
      if (createHash('sha256').update(verifier).digest('base64url') !== pending.codeChallenge) {
        throw new OAuthError(400, 'invalid_grant', 501481, 'The Code_Verifier does not match the code_challenge supplied in the authorization request.');
      }
      return tokenResponse({ ...pending, expiresAt: Date.now() + refreshLifetimeMs });
    }
    const refreshToken = form.get('refresh_token') ?? '';
    const grant = refreshTokens.get(refreshToken);
    refreshTokens.delete(refreshToken); // SPA refresh tokens rotate: each is used once
    if (!grant || grant.clientId !== clientId) throw new OAuthError(400, 'invalid_grant', 9002313, 'Invalid request. Request is malformed or invalid.');
    if (grant.expiresAt <= Date.now()) {
      throw new OAuthError(400, 'invalid_grant', 700084, 'The refresh token was issued to a single page app (SPA), and therefore has a fixed, limited lifetime of 1.00:00:00, which cannot be extended.');
    }
    const requested = checkRefreshScopes(form.get('scope'), grant.scopes);
    return tokenResponse({ ...grant, scopes: requested });
  };

  const logout: SignIn['logout'] = (req, res) => {
    const target = new URL(req.url ?? '/', 'http://localhost').searchParams.get('post_logout_redirect_uri');
    if (isLoopbackUrl(target)) return void res.writeHead(302, { location: target!, 'cache-control': 'no-store' }).end();
    sendHtml(res, 200, 'Signed out', '<h1>Signed out</h1><p>You have signed out of the dev tenant. You can close this window.</p>');
  };

  return { authorize, redeem, logout };
}

function checkRefreshScopes(scope: string | null, granted: string[]): string[] {
  try {
    const requested = checkScopes(scope);
    return requested.length > 0 ? requested : granted;
  } catch (error) {
    if (error instanceof AuthorizeError) throw new OAuthError(400, 'invalid_scope', 70011, error.description.replace(/^AADSTS\d+: /, ''));
    throw error;
  }
}

function showPicker(res: ServerResponse, params: URLSearchParams, problem?: string): void {
  const hidden = [...params]
    .filter(([name]) => name !== 'user' && name !== 'role')
    .map(([name, value]) => `<input type="hidden" name="${escapeHtml(name)}" value="${escapeHtml(value)}">`)
    .join('');
  const presets = DEV_USERS.map(
    (u) =>
      `<li><button type="submit" name="user" value="${u.name}">Sign in as ${u.name}${u.roles.length > 0 ? ` (${u.roles.join(', ')})` : ''}</button></li>`,
  ).join('');
  sendHtml(
    res,
    problem ? 400 : 200,
    'Sign in: dev tenant',
    `<h1>Sign in to the dev tenant</h1>
<p class="hint">The local development issuer has no passwords: pick who you are. In Azure this page is Microsoft Entra's sign-in.</p>
${problem ? `<p role="alert">${escapeHtml(problem)}</p>` : ''}
<form method="post"><ul>${presets}</ul>${hidden}</form>
<form method="post"><fieldset><legend>Another user</legend>
<label for="user">User name</label><input type="text" id="user" name="user" required pattern="[A-Za-z0-9._\\-]{1,64}" autocomplete="username">
<label><input type="checkbox" name="role" value="Products.Write"> May change the catalog (Products.Write)</label>
<button type="submit" class="secondary">Sign in as this user</button></fieldset>${hidden}</form>`,
  );
}
