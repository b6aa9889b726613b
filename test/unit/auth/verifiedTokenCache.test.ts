import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { createTokenVerifier, type Principal, type TokenVerifier } from '../../../src/adapters/auth/index.js';
import { VerifiedTokenCache, type VerifiedToken } from '../../../src/adapters/auth/verifiedTokenCache.js';
import { createTestIssuer, type TestIssuer } from '../../support/tokens.js';

describe('verified-token cache', () => {
  let issuer: TestIssuer;
  let verifier: TokenVerifier;

  beforeAll(async () => {
    issuer = await createTestIssuer();
    verifier = createTokenVerifier({ tenantId: issuer.tenantId, clientId: issuer.clientId, issuer: issuer.issuer, jwksUri: issuer.jwksUri, clockToleranceSeconds: 0 });
  });
  afterAll(() => issuer.close());

  it('when the same token comes again, then it is answered from the cache with the same principal', async () => {
    const token = await issuer.sign();
    const first = await verifier.verify(`Bearer ${token}`);
    // The very same (frozen) object proves no second verification ran.
    for (let i = 0; i < 100; i++) expect(await verifier.verify(`Bearer ${token}`)).toBe(first);
    expect(Object.isFrozen(first)).toBe(true);
  });

  it('when a cached token expires, then it is refused', async () => {
    const token = await issuer.sign({ exp: Math.floor(Date.now() / 1000) + 1 });
    await expect(verifier.verify(`Bearer ${token}`)).resolves.toBeDefined();
    await new Promise((resolve) => setTimeout(resolve, 2100));
    await expect(verifier.verify(`Bearer ${token}`)).rejects.toMatchObject({ status: 401 });
  });

  it('when a token differs by one character, then it is verified on its own and refused', async () => {
    const token = await issuer.sign();
    await verifier.verify(`Bearer ${token}`);
    const tampered = token.slice(0, -2) + (token.at(-2) === 'A' ? 'B' : 'A') + token.at(-1);
    await expect(verifier.verify(`Bearer ${tampered}`)).rejects.toMatchObject({ status: 401 });
  });

  it("when one character of a cached token's payload differs, then the signature check refuses it", async () => {
    const token = await issuer.sign();
    await verifier.verify(`Bearer ${token}`);
    const [header, payload, signature] = token.split('.') as [string, string, string];
    const tampered = `${header}.${payload.slice(0, 10)}${payload[10] === 'A' ? 'B' : 'A'}${payload.slice(11)}.${signature}`;
    await expect(verifier.verify(`Bearer ${tampered}`)).rejects.toMatchObject({ status: 401 });
    await expect(verifier.verify(`Bearer ${tampered}`)).rejects.toMatchObject({ status: 401 });
  });

  it('when a token is refused, then it is not cached: it is refused again', async () => {
    const token = await issuer.sign({ scp: 'other' });
    await expect(verifier.verify(`Bearer ${token}`)).rejects.toMatchObject({ status: 403 });
    await expect(verifier.verify(`Bearer ${token}`)).rejects.toMatchObject({ status: 403 });
  });
});

describe('verified-token cache when the signing key leaves the key set', () => {
  let idp: TestIssuer;
  beforeEach(async () => {
    idp = await createTestIssuer();
  });
  afterEach(async () => {
    vi.useRealTimers();
    await idp.close();
  });

  it("when a token with a new kid makes the key set refetched without the cached token's key, then the cached token is refused on every request", async () => {
    const verifier = createTokenVerifier({ tenantId: idp.tenantId, clientId: idp.clientId, issuer: idp.issuer, jwksUri: idp.jwksUri, jwksCooldownMs: 0 });
    const cached = await idp.sign();
    await expect(verifier.verify(`Bearer ${cached}`)).resolves.toBeDefined();
    await expect(verifier.verify(`Bearer ${cached}`)).resolves.toBeDefined();
    const next = await idp.addKey();
    idp.withdraw(idp.key);
    await expect(verifier.verify(`Bearer ${await idp.sign({}, {}, { key: next })}`)).resolves.toBeDefined();
    expect(idp.requests.jwks).toBe(2);
    for (let i = 0; i < 3; i++) await expect(verifier.verify(`Bearer ${cached}`)).rejects.toMatchObject({ status: 401 });
  });

  it("when the key set ages past jose's cache age and its refetch lacks the cached token's key, then the cached token is refused", async () => {
    const verifier = createTokenVerifier({ tenantId: idp.tenantId, clientId: idp.clientId, issuer: idp.issuer, jwksUri: idp.jwksUri });
    const cached = await idp.sign({ exp: Math.floor(Date.now() / 1000) + 3600 });
    await expect(verifier.verify(`Bearer ${cached}`)).resolves.toBeDefined();
    await idp.addKey();
    idp.withdraw(idp.key);
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(Date.now() + 11 * 60_000);
    await expect(verifier.verify(`Bearer ${cached}`)).rejects.toMatchObject({ status: 401 });
    expect(idp.requests.jwks).toBe(2);
  });

  it('when the key set is refetched and still holds the key, then the cached token is verified again once and accepted', async () => {
    const verifier = createTokenVerifier({ tenantId: idp.tenantId, clientId: idp.clientId, issuer: idp.issuer, jwksUri: idp.jwksUri, jwksCooldownMs: 0 });
    const cached = await idp.sign();
    const first = await verifier.verify(`Bearer ${cached}`);
    expect(await verifier.verify(`Bearer ${cached}`)).toBe(first);
    await verifier.verify(`Bearer ${await idp.sign({}, {}, { key: await idp.addKey() })}`);
    const again = await verifier.verify(`Bearer ${cached}`);
    expect(again).not.toBe(first); // a new verification, against the refetched key
    expect(again).toEqual(first);
    expect(await verifier.verify(`Bearer ${cached}`)).toBe(again);
  });
});

describe('VerifiedTokenCache bounds', () => {
  const verifiedAs = (userId: string): VerifiedToken => ({
    principal: { userId, tenantId: 't', kind: 'user', scopes: ['access_as_user'], roles: [] } satisfies Principal,
    key: {},
    header: { alg: 'RS256', kid: 'k' },
  });
  const token = (name: string) => name.padEnd(1500, '.');
  const later = Date.now() + 3_600_000;

  it('when entries would pass the byte bound, then the least recently used go first and the bound holds', () => {
    const cache = new VerifiedTokenCache(8 * 1024);
    for (const name of ['a', 'b', 'c', 'd']) cache.set(token(name), verifiedAs(name), later);
    expect(cache.size).toBe(4);
    expect(cache.get(token('a'), Date.now())?.principal.userId).toBe('a'); // a is now the most recently used
    cache.set(token('e'), verifiedAs('e'), later);
    cache.set(token('f'), verifiedAs('f'), later);
    expect(cache.bytes).toBeLessThanOrEqual(8 * 1024);
    expect(cache.get(token('b'), Date.now())).toBeUndefined();
    expect(cache.get(token('c'), Date.now())).toBeUndefined();
    expect(['a', 'd', 'e', 'f'].map((name) => cache.get(token(name), Date.now())?.principal.userId)).toEqual(['a', 'd', 'e', 'f']);
  });

  it('when many large tokens arrive, then the bytes held never pass the bound', () => {
    const cache = new VerifiedTokenCache(64 * 1024);
    for (let i = 0; i < 1_000; i++) {
      cache.set(`${i}`.padEnd(1000 + (i % 7) * 1000, 'x'), verifiedAs(`user-${i}`), later);
      expect(cache.bytes).toBeLessThanOrEqual(64 * 1024);
    }
    expect(cache.size).toBeGreaterThan(5);
  });

  it('when an entry has expired, then it is not returned and its bytes are freed', () => {
    const cache = new VerifiedTokenCache(8 * 1024);
    cache.set(token('a'), verifiedAs('a'), Date.now() + 1000);
    expect(cache.get(token('a'), Date.now() + 1000)).toBeUndefined();
    expect({ size: cache.size, bytes: cache.bytes }).toEqual({ size: 0, bytes: 0 });
  });

  it('when the same token is stored again, then it is counted once', () => {
    const cache = new VerifiedTokenCache(8 * 1024);
    cache.set(token('a'), verifiedAs('a'), later);
    const bytes = cache.bytes;
    cache.set(token('a'), verifiedAs('a'), later);
    expect({ size: cache.size, bytes: cache.bytes }).toEqual({ size: 1, bytes });
  });
});
