import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeJwt } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEV_API_SCOPE, DEV_SPA_CLIENT_ID, DEV_TENANT_ID, devUserObjectId, startDevIssuer, type DevIssuer } from '../../src/dev-issuer/index.js';

/** The dev issuer's sign-in for the storefront, spoken to as MSAL does, over its plain-HTTP port. */
describe('dev issuer: authorization code with PKCE for the storefront', () => {
  let issuer: DevIssuer;
  let base: string;
  const redirectUri = 'http://localhost:5173/';
  const storefrontOrigin = 'http://localhost:5173';

  beforeAll(async () => {
    issuer = await startDevIssuer({ dir: mkdtempSync(join(tmpdir(), 'shop-issuer-')), httpsPort: 0, httpPort: 0 });
    base = `http://127.0.0.1:${issuer.httpPort}/${DEV_TENANT_ID}/oauth2/v2.0`;
  });
  afterAll(() => issuer?.close());

  const pkce = () => {
    const verifier = randomBytes(32).toString('base64url');
    return { verifier, challenge: createHash('sha256').update(verifier).digest('base64url') };
  };

  const authorizeParams = (overrides: Record<string, string | undefined> = {}) => {
    const params: Record<string, string | undefined> = {
      client_id: DEV_SPA_CLIENT_ID,
      redirect_uri: redirectUri,
      response_type: 'code',
      response_mode: 'fragment',
      scope: `${DEV_API_SCOPE} openid profile offline_access`,
      state: 'state-1',
      nonce: 'nonce-1',
      code_challenge_method: 'S256',
      ...overrides,
    };
    return new URLSearchParams(Object.entries(params).filter((entry): entry is [string, string] => entry[1] !== undefined));
  };

  /** Picks `user` on the sign-in page (its form posts back to /authorize) and returns the answer's parameters. */
  async function signIn(user: string, challenge: string, extra: Record<string, string> = {}) {
    const form = authorizeParams({ code_challenge: challenge, user, ...extra });
    const response = await fetch(`${base}/authorize`, { method: 'POST', body: form, redirect: 'manual' });
    expect(response.status).toBe(302);
    const location = new URL(response.headers.get('location')!);
    expect(location.origin + location.pathname).toBe(redirectUri);
    return new URLSearchParams(location.hash.slice(1));
  }

  const token = (form: Record<string, string>) =>
    fetch(`${base}/token`, { method: 'POST', headers: { origin: storefrontOrigin }, body: new URLSearchParams({ client_id: DEV_SPA_CLIENT_ID, ...form }) });

  it('when the storefront asks to sign in, then the page offers alice, bob and admin', async () => {
    const response = await fetch(`${base}/authorize?${authorizeParams({ code_challenge: pkce().challenge })}`);
    expect(response.status).toBe(200);
    const page = await response.text();
    for (const user of ['alice', 'bob', 'admin (Products.Write)']) expect(page).toContain(`Sign in as ${user}`);
  });

  it('when PKCE is missing or a redirect URI is not on this machine, then sign-in is refused', async () => {
    const noChallenge = await fetch(`${base}/authorize?${authorizeParams()}`, { redirect: 'manual' });
    expect(noChallenge.status).toBe(302);
    expect(new URLSearchParams(new URL(noChallenge.headers.get('location')!).hash.slice(1)).get('error')).toBe('invalid_request');

    const elsewhere = await fetch(`${base}/authorize?${authorizeParams({ code_challenge: pkce().challenge, redirect_uri: 'https://attacker.example/' })}`, { redirect: 'manual' });
    expect(elsewhere.status).toBe(400); // shown to the person, never redirected to
    expect(await elsewhere.text()).toContain('AADSTS50011');
  });

  it('when bob signs in and the code is redeemed with its verifier, then he gets Entra-shaped tokens for the API', async () => {
    const { verifier, challenge } = pkce();
    const answer = await signIn('bob', challenge);
    expect(answer.get('state')).toBe('state-1');

    const response = await token({ grant_type: 'authorization_code', code: answer.get('code')!, redirect_uri: redirectUri, code_verifier: verifier });
    expect(response.status).toBe(200);
    expect(response.headers.get('access-control-allow-origin')).toBe(storefrontOrigin);
    const body = (await response.json()) as { access_token: string; id_token: string; refresh_token: string; scope: string; client_info: string };
    expect(body.scope).toBe(DEV_API_SCOPE);
    expect(decodeJwt(body.access_token)).toMatchObject({ aud: issuer.apiClientId, iss: issuer.issuer, scp: 'access_as_user', oid: devUserObjectId('bob'), azp: DEV_SPA_CLIENT_ID });
    expect(decodeJwt(body.access_token).roles).toBeUndefined();
    expect(decodeJwt(body.id_token)).toMatchObject({ aud: DEV_SPA_CLIENT_ID, nonce: 'nonce-1', preferred_username: 'bob@dev.local' });
    expect(JSON.parse(Buffer.from(body.client_info, 'base64url').toString())).toEqual({ uid: devUserObjectId('bob'), utid: DEV_TENANT_ID });

    // The code is spent; the refresh token works once and is replaced.
    const again = await token({ grant_type: 'authorization_code', code: answer.get('code')!, redirect_uri: redirectUri, code_verifier: verifier });
    expect(((await again.json()) as { error: string }).error).toBe('invalid_grant');
    const refreshed = await token({ grant_type: 'refresh_token', refresh_token: body.refresh_token, scope: `${DEV_API_SCOPE} openid offline_access` });
    expect(refreshed.status).toBe(200);
    const next = (await refreshed.json()) as { access_token: string; refresh_token: string };
    expect(decodeJwt(next.access_token).oid).toBe(devUserObjectId('bob'));
    expect(next.refresh_token).not.toBe(body.refresh_token);
    const reused = await token({ grant_type: 'refresh_token', refresh_token: body.refresh_token });
    expect(((await reused.json()) as { error: string }).error).toBe('invalid_grant');
  });

  it('when the verifier does not match the challenge, then the code buys nothing', async () => {
    const answer = await signIn('alice', pkce().challenge);
    const response = await token({ grant_type: 'authorization_code', code: answer.get('code')!, redirect_uri: redirectUri, code_verifier: pkce().verifier });
    expect(response.status).toBe(400);
    expect(await response.json()).toMatchObject({ error: 'invalid_grant', error_codes: [501481] });
  });

  it('when admin, or another user given Products.Write, signs in, then the access token carries the role', async () => {
    for (const [user, extra] of [['admin', {}], ['carol', { role: 'Products.Write' }]] as const) {
      const { verifier, challenge } = pkce();
      const answer = await signIn(user, challenge, extra);
      const body = (await (await token({ grant_type: 'authorization_code', code: answer.get('code')!, redirect_uri: redirectUri, code_verifier: verifier })).json()) as { access_token: string };
      expect(decodeJwt(body.access_token).roles).toEqual(['Products.Write']);
    }
  });
});
