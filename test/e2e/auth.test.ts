import { SignJWT, base64url } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestIssuer, type TestIssuer } from '../support/tokens.js';
import { startShop, type Shop } from '../support/shop.js';

const now = () => Math.floor(Date.now() / 1000);

describe('Entra token checks through HTTP (security battery)', () => {
  let issuer: TestIssuer;
  let shop: Shop;

  beforeAll(async () => {
    issuer = await createTestIssuer();
    shop = await startShop({ env: issuer.env });
  });
  afterAll(async () => {
    await shop?.stop();
    await issuer?.close();
  });

  const products = (authorization?: string) => fetch(`${shop.api}/products`, { headers: authorization === undefined ? {} : { authorization } });

  async function expectUnauthorized(authorization: string | undefined, description: RegExp): Promise<void> {
    const response = await products(authorization);
    expect(response.status).toBe(401);
    expect(response.headers.get('content-type')).toBe('application/problem+json');
    const challenge = response.headers.get('www-authenticate') ?? '';
    expect(challenge).toMatch(/^Bearer /);
    expect(challenge).toContain('error="invalid_token"');
    const body = (await response.json()) as { status: number; detail: string };
    expect(body.status).toBe(401);
    expect(body.detail).toMatch(description);
    // The response never echoes the token.
    if (authorization) expect(JSON.stringify(body) + challenge).not.toContain(authorization.replace(/^Bearer /, '').slice(0, 40));
  }

  it('when the token is valid, then the route answers', async () => {
    expect((await products(`Bearer ${await issuer.sign()}`)).status).toBe(200);
  });

  it('when there is no token, then 401', () => expectUnauthorized(undefined, /no bearer token/));
  it('when the token is garbage, then 401', () => expectUnauthorized('Bearer not-a-jwt', /not a JWT/));
  it('when the scheme is not Bearer, then 401', async () => expectUnauthorized(`Basic ${Buffer.from('a:b').toString('base64')}`, /Bearer scheme/));
  it('when the token is 10 KB, then 401 without parsing it', () => expectUnauthorized(`Bearer ${'a'.repeat(5000)}.${'b'.repeat(5000)}.c`, /larger than 8 KB/));

  it('when the token uses alg none, then 401', async () => {
    const header = base64url.encode(JSON.stringify({ alg: 'none', typ: 'JWT' }));
    const payload = base64url.encode(JSON.stringify({ iss: issuer.issuer, aud: issuer.clientId, tid: issuer.tenantId, oid: 'x', scp: 'access_as_user', ver: '2.0', exp: now() + 600 }));
    await expectUnauthorized(`Bearer ${header}.${payload}.`, /RS256/);
  });

  it('when the token is HS256-signed with the public key, then 401', async () => {
    const token = await new SignJWT({ tid: issuer.tenantId, oid: 'x', scp: 'access_as_user', ver: '2.0' })
      .setProtectedHeader({ alg: 'HS256', kid: issuer.key.kid })
      .setIssuer(issuer.issuer)
      .setAudience(issuer.clientId)
      .setExpirationTime('10m')
      .sign(new TextEncoder().encode(issuer.key.publicKeyPem));
    await expectUnauthorized(`Bearer ${token}`, /RS256/);
  });

  it('when the token is signed by a key the issuer does not publish, then 401', async () => {
    const stranger = await issuer.addKey(false);
    await expectUnauthorized(`Bearer ${await issuer.sign({}, { kid: issuer.key.kid }, { key: stranger })}`, /signature is invalid/);
  });

  it('when the token has expired, then 401', () => issuer.sign({ exp: now() - 120 }).then((t) => expectUnauthorized(`Bearer ${t}`, /expired/)));
  it('when nbf is in the future beyond the skew, then 401', () => issuer.sign({ nbf: now() + 600 }).then((t) => expectUnauthorized(`Bearer ${t}`, /not valid yet/)));
  it('when the issuer is another, then 401', () => issuer.sign({ iss: 'https://login.microsoftonline.com/other/v2.0' }).then((t) => expectUnauthorized(`Bearer ${t}`, /issuer/)));
  it('when the audience is another API, then 401', () => issuer.sign({ aud: 'api://someone-else' }).then((t) => expectUnauthorized(`Bearer ${t}`, /audience/)));
  it('when the token is for Microsoft Graph, then 401 telling the client to ask for this API', () =>
    issuer.sign({ aud: '00000003-0000-0000-c000-000000000000' }).then((t) => expectUnauthorized(`Bearer ${t}`, /Microsoft Graph.*access_as_user/)));

  it('when a delegated token lacks the scope or an app token lacks a role, then 403', async () => {
    expect((await products(`Bearer ${await issuer.sign({ scp: 'something.else' })}`)).status).toBe(403);
    expect((await products(`Bearer ${await issuer.signApp({ roles: [] })}`)).status).toBe(403);
  });

  it('when an app-only token asks for a cart, checks out or lists my orders, then 403 user_token_required; it may still read an order by id', async () => {
    const app = `Bearer ${await issuer.signApp({ roles: ['Orders.Read.All', 'Products.Write'] })}`;
    for (const [method, path] of [['GET', '/cart'], ['POST', '/cart/items'], ['POST', '/cart/checkout'], ['GET', '/orders']]) {
      const response = await fetch(`${shop.api}${path}`, { method, headers: { authorization: app, 'content-type': 'application/json' }, body: method === 'POST' ? '{}' : undefined });
      expect(response.status, `${method} ${path}`).toBe(403);
      expect(await response.json()).toMatchObject({ code: 'user_token_required' });
    }
    const order = await fetch(`${shop.api}/orders/0193a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b`, { headers: { authorization: app } });
    expect(order.status).toBe(404);
  });

  it('when a user without Products.Write creates a product, then 403 problem+json', async () => {
    const response = await fetch(`${shop.api}/products`, {
      method: 'POST',
      headers: { authorization: `Bearer ${await issuer.sign()}`, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'x', price: 1, stock: 1 }),
    });
    expect(response.status).toBe(403);
    expect(response.headers.get('content-type')).toBe('application/problem+json');
  });

  it('when 1000 requests carry unknown kids, then the JWKS is fetched at most once more (cooldown) and all get 401', async () => {
    expect((await products(`Bearer ${await issuer.sign()}`)).status).toBe(200); // keys cached
    const before = issuer.requests.jwks;
    const stranger = await issuer.addKey(false);
    const tokens = await Promise.all(Array.from({ length: 20 }, (_, i) => issuer.sign({}, { kid: `unknown-${i}` }, { key: stranger })));
    const statuses: number[] = [];
    for (let batch = 0; batch < 50; batch++) {
      statuses.push(...(await Promise.all(tokens.map(async (token) => (await products(`Bearer ${token}`)).status))));
    }
    expect(statuses).toHaveLength(1000);
    expect(new Set(statuses)).toEqual(new Set([401]));
    expect(issuer.requests.jwks - before).toBeLessThanOrEqual(1);
  });
});
