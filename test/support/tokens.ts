import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { calculateJwkThumbprint, CompactSign, exportJWK, exportSPKI, generateKeyPair, type CryptoKey, type JWK } from 'jose';

export const testTenantId = '3f6c2d1a-8b7e-4c5d-9e0f-1a2b3c4d5e6f';
export const testClientId = '9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d';
export const testUserId = '0d1e2f3a-4b5c-4d6e-8f7a-8b9c0d1e2f3a';

type Overrides = Record<string, unknown>;

export interface SigningKey {
  kid: string;
  privateKey: CryptoKey;
  publicJwk: JWK;
  publicKeyPem: string;
}

export interface TestIssuer {
  /** `http://127.0.0.1:<port>/<tenant>/v2.0`: the `iss` of its tokens; discovery is under it. */
  issuer: string;
  jwksUri: string;
  tenantId: string;
  clientId: string;
  /** The ENTRA_* settings that point the API (config.ts) at this issuer. */
  env: { ENTRA_TENANT_ID: string; ENTRA_CLIENT_ID: string; ENTRA_ISSUER: string; ENTRA_JWKS_URI: string };
  /** The key `sign` uses, published in the JWKS. */
  key: SigningKey;
  /** Requests served so far, per endpoint. */
  readonly requests: { discovery: number; jwks: number };
  /**
   * A valid delegated (user) token unless overridden: a claim or header parameter set to `undefined`
   * is removed. `options.key` signs with another key (its kid is used unless the header says otherwise).
   */
  sign(claims?: Overrides, header?: Overrides, options?: { key?: SigningKey }): Promise<string>;
  /** A valid app-only token (no `scp`, `idtyp: app`, role Products.Write) unless overridden. */
  signApp(claims?: Overrides, header?: Overrides): Promise<string>;
  /** Creates a key and, when `publish` (default true), adds it to the JWKS. */
  addKey(publish?: boolean): Promise<SigningKey>;
  /** Adds a key made earlier to the JWKS. */
  publish(key: SigningKey): void;
  /** Takes a key out of the JWKS (rotated out or revoked); tokens it signed are no longer the issuer's. */
  withdraw(key: SigningKey): void;
  /** While failing, the endpoint answers 503. */
  setFailing(endpoint: 'discovery' | 'jwks', failing: boolean): void;
  close(): Promise<void>;
}

export async function createSigningKey(): Promise<SigningKey> {
  const { privateKey, publicKey } = await generateKeyPair('RS256', { extractable: true });
  const publicJwk = await exportJWK(publicKey);
  const kid = await calculateJwkThumbprint(publicJwk);
  return { kid, privateKey, publicJwk: { ...publicJwk, kid, use: 'sig', alg: 'RS256' }, publicKeyPem: await exportSPKI(publicKey) };
}

function applyOverrides(base: Overrides, overrides: Overrides): Overrides {
  const result: Overrides = { ...base, ...overrides };
  for (const [name, value] of Object.entries(result)) if (value === undefined) delete result[name];
  return result;
}

export function base64url(input: string | Buffer): string {
  return Buffer.from(input).toString('base64url');
}

/** A compact JWS assembled by hand, for tokens no honest signer would produce (alg none, forged signatures). */
export function rawToken(header: Overrides, payload: Overrides, signature = ''): string {
  return `${base64url(JSON.stringify(header))}.${base64url(JSON.stringify(payload))}.${signature}`;
}

export function bearer(token: string): string {
  return `Bearer ${token}`;
}

/**
 * An Entra-like issuer for tests: RS256 keys made with jose, OpenID discovery and a JWKS served by a
 * real HTTP server on 127.0.0.1, counting requests.
 */
export async function createTestIssuer(options: { tenantId?: string; clientId?: string } = {}): Promise<TestIssuer> {
  const tenantId = options.tenantId ?? testTenantId;
  const clientId = options.clientId ?? testClientId;
  const key = await createSigningKey();
  const published: JWK[] = [key.publicJwk];
  const requests = { discovery: 0, jwks: 0 };
  const failing = { discovery: false, jwks: false };
  let issuer = '';
  let jwksUri = '';

  const send = (res: ServerResponse, status: number, body: unknown) => {
    res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
  };
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    if (path === `/${tenantId}/v2.0/.well-known/openid-configuration`) {
      requests.discovery++;
      if (failing.discovery) return send(res, 503, { error: 'temporarily_unavailable' });
      return send(res, 200, {
        issuer,
        jwks_uri: jwksUri,
        token_endpoint: `${issuer.replace('/v2.0', '')}/oauth2/v2.0/token`,
        authorization_endpoint: `${issuer.replace('/v2.0', '')}/oauth2/v2.0/authorize`,
        id_token_signing_alg_values_supported: ['RS256'],
      });
    }
    if (path === `/${tenantId}/discovery/v2.0/keys`) {
      requests.jwks++;
      if (failing.jwks) return send(res, 503, { error: 'temporarily_unavailable' });
      return send(res, 200, { keys: published });
    }
    send(res, 404, { error: 'not_found' });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  issuer = `http://127.0.0.1:${port}/${tenantId}/v2.0`;
  jwksUri = `http://127.0.0.1:${port}/${tenantId}/discovery/v2.0/keys`;

  const sign: TestIssuer['sign'] = async (claims = {}, header = {}, signOptions = {}) => {
    const signingKey = signOptions.key ?? key;
    const now = Math.floor(Date.now() / 1000);
    const payload = applyOverrides(
      {
        aud: clientId,
        iss: issuer,
        iat: now,
        nbf: now,
        exp: now + 3600,
        azp: '5b4c3d2e-1f0a-4b9c-8d7e-6f5a4b3c2d1e',
        azpacr: '0',
        name: 'Test User',
        oid: testUserId,
        preferred_username: 'test.user@example.test',
        scp: 'access_as_user',
        sub: 'k3Nq2mX9pL8vR7tY6wE5uI4oP3aS2dF1gH0jK9lZ8xC',
        tid: tenantId,
        ver: '2.0',
      },
      claims,
    );
    const protectedHeader = applyOverrides({ alg: 'RS256', typ: 'JWT', kid: signingKey.kid }, header);
    return new CompactSign(new TextEncoder().encode(JSON.stringify(payload)))
      .setProtectedHeader(protectedHeader as { alg: string })
      .sign(signingKey.privateKey);
  };

  return {
    issuer,
    jwksUri,
    tenantId,
    clientId,
    env: { ENTRA_TENANT_ID: tenantId, ENTRA_CLIENT_ID: clientId, ENTRA_ISSUER: issuer, ENTRA_JWKS_URI: jwksUri },
    key,
    requests,
    sign,
    signApp: (claims = {}, header = {}) =>
      sign(
        {
          scp: undefined,
          name: undefined,
          preferred_username: undefined,
          idtyp: 'app',
          roles: ['Products.Write'],
          oid: '6c5d4e3f-2a1b-4c0d-9e8f-7a6b5c4d3e2f',
          sub: '6c5d4e3f-2a1b-4c0d-9e8f-7a6b5c4d3e2f',
          ...claims,
        },
        header,
      ),
    async addKey(publish = true) {
      const added = await createSigningKey();
      if (publish) published.push(added.publicJwk);
      return added;
    },
    publish(added) {
      published.push(added.publicJwk);
    },
    withdraw(withdrawn) {
      const index = published.indexOf(withdrawn.publicJwk);
      if (index >= 0) published.splice(index, 1);
    },
    setFailing(endpoint, value) {
      failing[endpoint] = value;
    },
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        server.closeAllConnections();
      }),
  };
}
