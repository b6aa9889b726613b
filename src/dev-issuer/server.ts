import { timingSafeEqual, createHash } from 'node:crypto';
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import {
  DEFAULT_HTTP_PORT,
  DEFAULT_HTTPS_PORT,
  DEV_API_CLIENT_ID,
  DEV_CLIENT_ID,
  DEV_CLIENT_ROLES,
  DEV_TENANT_ID,
  devIssuerUrls,
} from './constants.js';
import { OAuthError, readForm, sendJson, sendOAuthError } from './http.js';
import { createSignIn, isLoopbackUrl } from './signIn.js';
import { loadOrCreateDevIssuerState, type DevIssuerState } from './state.js';
import { createDevTokenMinter, type DevTokenMinter, type MintUserTokenOptions } from './tokens.js';

export interface DevIssuerOptions {
  /** Where keys, certificate and client secret are kept (the dev tooling passes `.local/dev-issuer/`). */
  dir: string;
  /** HTTPS port (discovery, JWKS, token endpoint); default 7443; 0 picks a free one. */
  httpsPort?: number;
  /** Plain HTTP loopback port (discovery and JWKS only); default 7444; 0 picks a free one. */
  httpPort?: number;
  /** Address to listen on; default 127.0.0.1. */
  host?: string;
  /** App roles granted to the dev client; default Products.Write and Orders.Read.All. */
  devClientRoles?: readonly string[];
}

export interface DevIssuer {
  tenantId: string;
  apiClientId: string;
  devClient: { clientId: string; clientSecret: string; roles: readonly string[] };
  /** `https://localhost:<port>/<tenant>/v2.0`, the `iss` of its tokens. */
  issuer: string;
  /** Plain-HTTP JWKS: what ENTRA_JWKS_URI should be. */
  jwksUri: string;
  /** `https://localhost:<port>/<tenant>`, for MSAL. */
  authority: string;
  tokenEndpoint: string;
  /** The self-signed certificate of the HTTPS endpoint, to trust (PEM). */
  caCertPath: string;
  caCert: string;
  httpsPort: number;
  httpPort: number;
  mintUserToken(options: MintUserTokenOptions): Promise<string>;
  close(): Promise<void>;
}

function sameSecret(given: string, expected: string): boolean {
  // Hash first so lengths match and the comparison takes the same time whatever was sent.
  const digest = (value: string) => createHash('sha256').update(value).digest();
  return timingSafeEqual(digest(given), digest(expected));
}

function clientCredentials(req: IncomingMessage, form: URLSearchParams): { clientId?: string; clientSecret?: string } {
  const basic = /^basic\s+(.+)$/i.exec(req.headers.authorization ?? '');
  if (basic) {
    const [id, secret] = Buffer.from(basic[1]!, 'base64').toString('utf8').split(':');
    return { clientId: decodeURIComponent(id ?? ''), clientSecret: decodeURIComponent(secret ?? '') };
  }
  return { clientId: form.get('client_id') ?? undefined, clientSecret: form.get('client_secret') ?? undefined };
}

const acceptedScopes = new Set([`api://${DEV_API_CLIENT_ID}/.default`, `${DEV_API_CLIENT_ID}/.default`]);
const ignoredScopes = new Set(['openid', 'profile', 'offline_access']);

/**
 * Starts a local issuer that behaves like Microsoft Entra ID's v2 endpoints for one dev tenant:
 * OpenID discovery, JWKS, the token endpoint (client credentials; authorization code with PKCE and
 * refresh tokens for the storefront) and an /authorize page to pick a dev user, over HTTPS with a
 * self-signed certificate and over plain HTTP on a loopback port (what the API and browsers use).
 * Keys, certificate and the dev client's secret are created on first start and kept in `dir`.
 */
export async function startDevIssuer(options: DevIssuerOptions): Promise<DevIssuer> {
  const host = options.host ?? '127.0.0.1';
  const state: DevIssuerState = await loadOrCreateDevIssuerState(options.dir);
  const roles = Object.freeze([...(options.devClientRoles ?? DEV_CLIENT_ROLES)]);
  const tenantBase = `/${DEV_TENANT_ID}`;
  let urls = devIssuerUrls();
  // The issuer URL is known once the ports are bound (port 0 picks one).
  const minter = (): DevTokenMinter => createDevTokenMinter(state, urls.issuer);

  const signIn = createSignIn(minter);

  // The plain-HTTP document names plain-HTTP endpoints: a browser signs in there without a certificate exception.
  const discovery = (scheme: 'https' | 'http') => {
    const base = scheme === 'https' ? urls.authority : urls.jwksUri.replace(/\/discovery\/v2\.0\/keys$/, '');
    return {
      issuer: urls.issuer,
      token_endpoint: `${base}/oauth2/v2.0/token`,
      authorization_endpoint: `${base}/oauth2/v2.0/authorize`,
      end_session_endpoint: `${base}/oauth2/v2.0/logout`,
      device_authorization_endpoint: `${base}/oauth2/v2.0/devicecode`,
      jwks_uri: `${base}/discovery/v2.0/keys`,
      token_endpoint_auth_methods_supported: ['client_secret_post', 'client_secret_basic', 'none'],
      code_challenge_methods_supported: ['S256'],
      response_modes_supported: ['query', 'fragment'],
      subject_types_supported: ['pairwise'],
      id_token_signing_alg_values_supported: ['RS256'],
      response_types_supported: ['code'],
      scopes_supported: ['openid', 'profile', 'email', 'offline_access'],
      grant_types_supported: ['authorization_code', 'refresh_token', 'client_credentials'],
      claims_supported: ['sub', 'iss', 'aud', 'exp', 'iat', 'nbf', 'tid', 'oid', 'azp', 'roles', 'scp', 'ver', 'idtyp'],
      tenant_region_scope: 'NA',
      cloud_instance_name: 'dev.local',
    };
  };

  const token = async (req: IncomingMessage, res: ServerResponse) => {
    const form = await readForm(req);
    const grantType = form.get('grant_type');
    if (!grantType) throw new OAuthError(400, 'invalid_request', 900144, "The request body must contain the following parameter: 'grant_type'.");
    if (grantType === 'authorization_code' || grantType === 'refresh_token') return sendJson(res, 200, await signIn.redeem(grantType, form));
    if (grantType !== 'client_credentials') {
      throw new OAuthError(
        400,
        'unsupported_grant_type',
        70003,
        `The app requested an unsupported grant type '${grantType.slice(0, 64)}'. The dev issuer supports authorization_code, refresh_token and client_credentials.`,
      );
    }
    const { clientId, clientSecret } = clientCredentials(req, form);
    if (!clientId) throw new OAuthError(400, 'invalid_request', 900144, "The request body must contain the following parameter: 'client_id'.");
    if (clientId !== DEV_CLIENT_ID) {
      throw new OAuthError(
        400,
        'unauthorized_client',
        700016,
        `Application with identifier '${clientId.slice(0, 64)}' was not found in the directory '${DEV_TENANT_ID}'.`,
      );
    }
    if (!clientSecret) {
      throw new OAuthError(401, 'invalid_client', 7000216, "'client_assertion', 'client_secret' or 'request' is required for the 'client_credentials' grant type.");
    }
    if (!sameSecret(clientSecret, state.clientSecret)) {
      throw new OAuthError(401, 'invalid_client', 7000215, `Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '${DEV_CLIENT_ID}'.`);
    }
    const scopes = (form.get('scope') ?? '').split(' ').filter((s) => s && !ignoredScopes.has(s));
    if (scopes.length !== 1 || !acceptedScopes.has(scopes[0]!)) {
      throw new OAuthError(
        400,
        'invalid_scope',
        1002012,
        `The provided value for scope ${(form.get('scope') ?? '').slice(0, 200)} is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI): api://${DEV_API_CLIENT_ID}/.default.`,
      );
    }
    const expiresIn = 3599;
    const accessToken = await minter().mintAppToken({ roles, expiresInSeconds: expiresIn + 1 });
    sendJson(res, 200, { token_type: 'Bearer', expires_in: expiresIn, ext_expires_in: expiresIn, access_token: accessToken });
  };

  const handler = (scheme: 'https' | 'http') => async (req: IncomingMessage, res: ServerResponse) => {
    try {
      const path = new URL(req.url ?? '/', 'http://localhost').pathname;
      const method = req.method ?? 'GET';
      const isGet = method === 'GET' || method === 'HEAD';
      // Like Entra for SPA registrations: pages on this machine may call the token endpoint from script.
      const origin = req.headers.origin;
      if (isLoopbackUrl(origin)) {
        res.setHeader('access-control-allow-origin', origin!);
        res.setHeader('vary', 'Origin');
        if (method === 'OPTIONS') {
          res.writeHead(204, {
            'access-control-allow-methods': 'GET, POST',
            'access-control-allow-headers': req.headers['access-control-request-headers'] ?? '',
            'access-control-max-age': '86400',
          });
          return void res.end();
        }
      }
      if (path === `${tenantBase}/v2.0/.well-known/openid-configuration` && isGet) return sendJson(res, 200, discovery(scheme), { 'cache-control': 'max-age=86400' });
      if (path === `${tenantBase}/discovery/v2.0/keys` && isGet) return sendJson(res, 200, { keys: [state.publicJwk] }, { 'cache-control': 'max-age=86400' });
      if (path === `${tenantBase}/oauth2/v2.0/token` && method === 'POST') return await token(req, res);
      if (path === `${tenantBase}/oauth2/v2.0/authorize` && (isGet || method === 'POST')) return await signIn.authorize(req, res);
      if (path === `${tenantBase}/oauth2/v2.0/logout` && isGet) return signIn.logout(req, res);
      if (path === `${tenantBase}/oauth2/v2.0/devicecode`) {
        throw new OAuthError(400, 'unsupported_grant_type', 70003, 'The dev issuer has no device-code sign-in; mint a user token with npm run token -- --user <name>.');
      }
      const tenant = /^\/([^/]+)\/(v2\.0|oauth2|discovery)\//.exec(path)?.[1];
      if (tenant && tenant !== DEV_TENANT_ID) {
        throw new OAuthError(400, 'invalid_tenant', 90002, `Tenant '${decodeURIComponent(tenant).slice(0, 64)}' not found. The dev issuer serves tenant ${DEV_TENANT_ID} only.`);
      }
      sendJson(res, 404, { error: 'not_found', error_description: `No dev issuer endpoint at ${method} ${path.slice(0, 200)}` });
    } catch (error) {
      if (error instanceof OAuthError) return sendOAuthError(res, error);
      if (!res.headersSent) sendOAuthError(res, new OAuthError(500, 'server_error', 90000, 'The dev issuer failed to handle the request.'));
      else res.destroy();
    }
  };

  const https = createHttpsServer({ key: state.tls.keyPem, cert: state.tls.certPem }, (req, res) => void handler('https')(req, res));
  const http = createHttpServer((req, res) => void handler('http')(req, res));
  const listen = (server: Server, port: number) =>
    new Promise<number>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => {
        server.off('error', reject);
        resolve((server.address() as AddressInfo).port);
      });
    });
  const close = (server: Server) =>
    new Promise<void>((resolve) => {
      if (!server.listening) return resolve();
      server.close(() => resolve());
      server.closeAllConnections();
    });

  let httpsPort: number;
  let httpPort: number;
  try {
    httpsPort = await listen(https, options.httpsPort ?? DEFAULT_HTTPS_PORT);
    httpPort = await listen(http, options.httpPort ?? DEFAULT_HTTP_PORT);
  } catch (error) {
    await Promise.all([close(https), close(http)]);
    throw error;
  }
  urls = devIssuerUrls({ httpsPort, httpPort });

  return {
    tenantId: DEV_TENANT_ID,
    apiClientId: DEV_API_CLIENT_ID,
    devClient: { clientId: DEV_CLIENT_ID, clientSecret: state.clientSecret, roles },
    issuer: urls.issuer,
    jwksUri: urls.jwksUri,
    authority: urls.authority,
    tokenEndpoint: urls.tokenEndpoint,
    caCertPath: state.caCertPath,
    caCert: state.tls.certPem,
    httpsPort,
    httpPort,
    mintUserToken: (o) => minter().mintUserToken(o),
    close: async () => {
      await Promise.all([close(https), close(http)]);
    },
  };
}
