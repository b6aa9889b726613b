import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfidentialClientApplication, ServerError } from '@azure/msal-node';
import { decodeJwt } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTokenVerifier } from '../../src/adapters/auth/index.js';
import { createShopClient, ShopApiError } from '../../src/client/shopClient.js';
import { caTrustingNetworkClient, devIssuerTokenProvider } from '../../src/client/tokens.js';
import {
  DEV_API_CLIENT_ID,
  DEV_CLIENT_ID,
  DEV_CLIENT_OBJECT_ID,
  DEV_TENANT_ID,
  devIssuerSettings,
  devUserObjectId,
  startDevIssuer,
  type DevIssuer,
} from '../../src/dev-issuer/index.js';

let dir: string;
let issuer: DevIssuer;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'dev-issuer-'));
  issuer = await startDevIssuer({ dir, httpsPort: 0, httpPort: 0 });
}, 60_000);
afterAll(async () => {
  await issuer?.close();
  await rm(dir, { recursive: true, force: true });
});

function msalApp(options: { clientSecret?: string; clientId?: string } = {}) {
  return new ConfidentialClientApplication({
    auth: {
      clientId: options.clientId ?? issuer.devClient.clientId,
      authority: issuer.authority,
      clientSecret: options.clientSecret ?? issuer.devClient.clientSecret,
      knownAuthorities: [new URL(issuer.authority).host],
    },
    system: { networkClient: caTrustingNetworkClient(issuer.caCert) },
  });
}

const verifierFor = (target: DevIssuer) => {
  const settings = devIssuerSettings(target);
  return createTokenVerifier({
    tenantId: settings.ENTRA_TENANT_ID,
    clientId: settings.ENTRA_CLIENT_ID,
    issuer: settings.ENTRA_ISSUER,
    jwksUri: settings.ENTRA_JWKS_URI,
  });
};

describe('dev issuer', () => {
  it('when started, then it names the dev tenant, API and client, with an https issuer and a plain-http JWKS', () => {
    expect(issuer).toMatchObject({
      tenantId: DEV_TENANT_ID,
      apiClientId: DEV_API_CLIENT_ID,
      devClient: { clientId: DEV_CLIENT_ID, roles: ['Products.Write', 'Orders.Read.All'] },
      issuer: `https://localhost:${issuer.httpsPort}/${DEV_TENANT_ID}/v2.0`,
      authority: `https://localhost:${issuer.httpsPort}/${DEV_TENANT_ID}`,
      jwksUri: `http://127.0.0.1:${issuer.httpPort}/${DEV_TENANT_ID}/discovery/v2.0/keys`,
    });
    expect(issuer.devClient.clientSecret).toMatch(/^[A-Za-z0-9_-]{40}$/);
    expect(devIssuerSettings(issuer)).toEqual({
      ENTRA_TENANT_ID: DEV_TENANT_ID,
      ENTRA_CLIENT_ID: DEV_API_CLIENT_ID,
      ENTRA_ISSUER: issuer.issuer,
      ENTRA_JWKS_URI: issuer.jwksUri,
    });
  });

  it('when the state is created, then the secret and keys are kept in the directory, readable by the owner only', async () => {
    const state = JSON.parse(await readFile(join(dir, 'state.json'), 'utf8')) as { clientSecret: string };
    expect(state.clientSecret).toBe(issuer.devClient.clientSecret);
    expect((await stat(join(dir, 'state.json'))).mode & 0o077).toBe(0);
    expect(await readFile(issuer.caCertPath, 'utf8')).toBe(issuer.caCert);
  });

  it('when discovery and keys are read over plain HTTP, then they match the HTTPS issuer and name plain-HTTP endpoints', async () => {
    const base = issuer.jwksUri.replace('/discovery/v2.0/keys', '');
    const discovery = (await (await fetch(`${base}/v2.0/.well-known/openid-configuration`)).json()) as Record<string, string>;
    // Browsers sign in through these without a certificate exception (docs/storefront.md).
    expect(discovery).toMatchObject({ issuer: issuer.issuer, jwks_uri: issuer.jwksUri, token_endpoint: `${base}/oauth2/v2.0/token`, authorization_endpoint: `${base}/oauth2/v2.0/authorize` });
    const jwks = (await (await fetch(issuer.jwksUri)).json()) as { keys: { kid: string; kty: string; alg: string; d?: string }[] };
    expect(jwks.keys).toHaveLength(1);
    expect(jwks.keys[0]).toMatchObject({ kty: 'RSA', alg: 'RS256', use: 'sig' });
    expect(jwks.keys[0]!.kid).toBeTruthy();
    expect(jwks.keys[0]!.d).toBeUndefined();
  });

  it('when MSAL asks for a token with client credentials, then it gets an app-only token that the API verifier accepts', async () => {
    const result = await msalApp().acquireTokenByClientCredential({ scopes: [`api://${DEV_API_CLIENT_ID}/.default`] });
    expect(result?.tokenType).toBe('Bearer');
    const claims = decodeJwt(result!.accessToken);
    expect(claims).toMatchObject({
      aud: DEV_API_CLIENT_ID,
      iss: issuer.issuer,
      tid: DEV_TENANT_ID,
      oid: DEV_CLIENT_OBJECT_ID,
      sub: DEV_CLIENT_OBJECT_ID,
      azp: DEV_CLIENT_ID,
      idtyp: 'app',
      ver: '2.0',
      roles: ['Products.Write', 'Orders.Read.All'],
    });
    expect(claims.scp).toBeUndefined();
    expect(claims.exp! - claims.iat!).toBe(3600);
    await expect(verifierFor(issuer).verify(`Bearer ${result!.accessToken}`)).resolves.toEqual({
      userId: DEV_CLIENT_OBJECT_ID,
      tenantId: DEV_TENANT_ID,
      kind: 'app',
      scopes: [],
      roles: ['Products.Write', 'Orders.Read.All'],
    });
  });

  it('when the scope is the bare client id with /.default, then the grant works too', async () => {
    const result = await msalApp().acquireTokenByClientCredential({ scopes: [`${DEV_API_CLIENT_ID}/.default`], skipCache: true });
    expect(decodeJwt(result!.accessToken).aud).toBe(DEV_API_CLIENT_ID);
  });

  it('when the client secret is wrong, then MSAL fails with invalid_client as from Entra', async () => {
    const error = await msalApp({ clientSecret: 'wrong' })
      .acquireTokenByClientCredential({ scopes: [`api://${DEV_API_CLIENT_ID}/.default`] })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ServerError);
    expect((error as ServerError).errorCode).toBe('invalid_client');
    expect((error as ServerError).errorMessage).toContain('AADSTS7000215: Invalid client secret provided');
  });

  it('when the client id is unknown, then MSAL fails with unauthorized_client', async () => {
    const error = await msalApp({ clientId: '00000000-1111-4222-8333-444444444444' })
      .acquireTokenByClientCredential({ scopes: [`api://${DEV_API_CLIENT_ID}/.default`] })
      .catch((e: unknown) => e);
    expect((error as ServerError).errorCode).toBe('unauthorized_client');
  });

  it('when the scope is not the API /.default, then MSAL fails with invalid_scope', async () => {
    const error = await msalApp()
      .acquireTokenByClientCredential({ scopes: [`api://${DEV_API_CLIENT_ID}/access_as_user`] })
      .catch((e: unknown) => e);
    expect((error as ServerError).errorCode).toBe('invalid_scope');
  });

  it('when the token endpoint gets an unsupported grant, then it answers 400 in Entra form', async () => {
    // Plain fetch cannot trust the self-signed certificate; the MSAL network client can.
    const client = caTrustingNetworkClient(issuer.caCert);
    const response = await client.sendPostRequestAsync<Record<string, unknown>>(issuer.tokenEndpoint, {
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'grant_type=password&username=a&password=b',
    });
    expect(response.status).toBe(400);
    expect(response.body).toMatchObject({ error: 'unsupported_grant_type', error_codes: [70003] });
    expect(response.body.error_description).toMatch(/^AADSTS70003: /);
  });

  it('when the client uses devIssuerTokenProvider, then it gets a verifiable token from the state directory', async () => {
    const getToken = devIssuerTokenProvider({ dir, authority: issuer.authority });
    const token = await getToken();
    await expect(verifierFor(issuer).verify(`Bearer ${token}`)).resolves.toMatchObject({ kind: 'app' });
    expect(await getToken()).toBe(token);
  });

  it('when a user token is minted, then it verifies and carries the deterministic oid of the user', async () => {
    const token = await issuer.mintUserToken({ user: 'alice', roles: ['Products.Write'] });
    const claims = decodeJwt(token);
    expect(claims).toMatchObject({
      aud: DEV_API_CLIENT_ID,
      iss: issuer.issuer,
      tid: DEV_TENANT_ID,
      ver: '2.0',
      scp: 'access_as_user',
      name: 'Alice',
      preferred_username: 'alice@dev.local',
      roles: ['Products.Write'],
    });
    const principal = await verifierFor(issuer).verify(`Bearer ${token}`);
    expect(principal).toEqual({ userId: devUserObjectId('alice'), tenantId: DEV_TENANT_ID, kind: 'user', scopes: ['access_as_user'], roles: ['Products.Write'], email: 'alice@dev.local' });
    expect(principal.userId).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(decodeJwt(await issuer.mintUserToken({ user: 'alice' })).oid).toBe(principal.userId);
    expect(decodeJwt(await issuer.mintUserToken({ user: 'bob' })).oid).not.toBe(principal.userId);
  });

  it('when a user token is minted without access_as_user, then the verifier answers 403', async () => {
    const token = await issuer.mintUserToken({ user: 'carol', scopes: ['Other.Scope'], expiresInSeconds: 60 });
    await expect(verifierFor(issuer).verify(`Bearer ${token}`)).rejects.toMatchObject({ code: 'forbidden' });
  });

  it('when the issuer restarts on the same ports, then the key is reused and earlier tokens still verify', async () => {
    const before = await issuer.mintUserToken({ user: 'alice' });
    const ports = { httpsPort: issuer.httpsPort, httpPort: issuer.httpPort };
    const secret = issuer.devClient.clientSecret;
    await issuer.close();
    issuer = await startDevIssuer({ dir, ...ports });
    expect(issuer.devClient.clientSecret).toBe(secret);
    await expect(verifierFor(issuer).verify(`Bearer ${before}`)).resolves.toMatchObject({ userId: devUserObjectId('alice') });
    const result = await msalApp().acquireTokenByClientCredential({ scopes: [`api://${DEV_API_CLIENT_ID}/.default`] });
    await expect(verifierFor(issuer).verify(`Bearer ${result!.accessToken}`)).resolves.toMatchObject({ kind: 'app' });
  }, 30_000);
});

describe('shop client', () => {
  it('when it calls an API guarded by the verifier, then it sends the dev token and surfaces problem+json errors', async () => {
    const verifier = verifierFor(issuer);
    const seen: string[] = [];
    const api: Server = createServer((req, res) => {
      seen.push(`${req.method} ${req.url} ${req.headers['idempotency-key'] ? 'idem' : ''}`.trim());
      verifier.verify(req.headers.authorization).then(
        (principal) => {
          if (req.url === '/api/orders/missing') {
            res.writeHead(404, { 'content-type': 'application/problem+json' });
            return res.end(JSON.stringify({ type: 'about:blank', title: 'Not found', status: 404, detail: 'No order missing' }));
          }
          res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ items: [], total: 0, caller: principal.userId }));
        },
        (error: { status: number; message: string }) => {
          res.writeHead(error.status, { 'content-type': 'application/problem+json' }).end(JSON.stringify({ title: 'Unauthorized', status: error.status, detail: error.message }));
        },
      );
    });
    await new Promise<void>((resolve) => api.listen(0, '127.0.0.1', resolve));
    const apiBaseUrl = `http://127.0.0.1:${(api.address() as { port: number }).port}/api/`;
    try {
      const client = createShopClient({ apiBaseUrl, getToken: devIssuerTokenProvider({ dir, authority: issuer.authority }) });
      await expect(client.getCart()).resolves.toMatchObject({ caller: DEV_CLIENT_OBJECT_ID });
      await client.listProducts({ limit: 5 });
      await client.addToCart('p 1', 2);
      await client.checkout({ idempotencyKey: 'k1' });
      const error = await client.getOrder('missing').catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ShopApiError);
      expect({ status: (error as ShopApiError).status, message: (error as Error).message }).toEqual({ status: 404, message: '404 Not found: No order missing' });
      const anonymous = createShopClient({ apiBaseUrl, getToken: async () => 'not-a-token' });
      await expect(anonymous.getCart()).rejects.toMatchObject({ status: 401 });
      expect(seen).toEqual(['GET /api/cart', 'GET /api/products?limit=5', 'POST /api/cart/items', 'POST /api/cart/checkout idem', 'GET /api/orders/missing', 'GET /api/cart']);
    } finally {
      await new Promise((resolve) => api.close(resolve));
    }
  });
});
