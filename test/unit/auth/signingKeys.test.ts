import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createTokenVerifier, type TokenVerifierOptions } from '../../../src/adapters/auth/index.js';
import { AppError } from '../../../src/errors.js';
import { bearer, createSigningKey, createTestIssuer, testUserId, type TestIssuer } from '../../support/tokens.js';

let idp: TestIssuer;

beforeEach(async () => {
  idp = await createTestIssuer();
});
afterEach(async () => {
  vi.useRealTimers();
  await idp.close();
});

const verifierFor = (options: Partial<TokenVerifierOptions> = {}) =>
  createTokenVerifier({ tenantId: idp.tenantId, clientId: idp.clientId, issuer: idp.issuer, ...options });

async function failure(promise: Promise<unknown>): Promise<AppError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(AppError);
  return error as AppError;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('signing keys', () => {
  it('when no jwksUri is configured, then keys come from OpenID discovery, fetched once on first use', async () => {
    const verifier = verifierFor();
    expect(idp.requests).toEqual({ discovery: 0, jwks: 0 });
    for (let i = 0; i < 5; i++) await expect(verifier.verify(bearer(await idp.sign()))).resolves.toMatchObject({ userId: testUserId });
    expect(idp.requests).toEqual({ discovery: 1, jwks: 1 });
  });

  it('when discovery fails, then 503, and a later call retries it', async () => {
    const verifier = verifierFor();
    idp.setFailing('discovery', true);
    const error = await failure(verifier.verify(bearer(await idp.sign())));
    expect({ code: error.code, status: error.status }).toEqual({ code: 'dependency_unavailable', status: 503 });
    expect(error.headers['Retry-After']).toBe('5');
    idp.setFailing('discovery', false);
    await expect(verifier.verify(bearer(await idp.sign()))).resolves.toMatchObject({ userId: testUserId });
    expect(idp.requests.discovery).toBe(2);
  });

  it('when the key set is unreachable and no keys were fetched yet, then 503, not 401', async () => {
    const verifier = verifierFor({ jwksUri: 'http://127.0.0.1:9/keys' });
    const error = await failure(verifier.verify(bearer(await idp.sign())));
    expect({ code: error.code, status: error.status, message: error.message }).toEqual({
      code: 'dependency_unavailable',
      status: 503,
      message: "The identity provider's signing keys is unavailable; try again later",
    });
  });

  it('when the key set answers an error and no keys were fetched yet, then 503, and it recovers', async () => {
    const verifier = verifierFor({ jwksUri: idp.jwksUri });
    idp.setFailing('jwks', true);
    expect((await failure(verifier.verify(bearer(await idp.sign())))).code).toBe('dependency_unavailable');
    idp.setFailing('jwks', false);
    await expect(verifier.verify(bearer(await idp.sign()))).resolves.toMatchObject({ userId: testUserId });
  });

  it('when the cached keys are stale and the key set is down, then the cached keys keep verifying', async () => {
    const verifier = verifierFor({ jwksUri: idp.jwksUri });
    await verifier.verify(bearer(await idp.sign()));
    idp.setFailing('jwks', true);
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(Date.now() + 11 * 60_000);
    const token = await idp.sign();
    await expect(verifier.verify(bearer(token))).resolves.toMatchObject({ userId: testUserId });
    await expect(verifier.verify(bearer(token))).resolves.toMatchObject({ userId: testUserId });
    // One failed refresh, then the stale keys serve for a cooldown without another attempt.
    expect(idp.requests.jwks).toBe(2);
  });

  it('when a token names a key that could not be fetched because the key set is down, then 503', async () => {
    const verifier = verifierFor({ jwksUri: idp.jwksUri, jwksCooldownMs: 0 });
    await verifier.verify(bearer(await idp.sign()));
    idp.setFailing('jwks', true);
    const rotated = await idp.addKey();
    const error = await failure(verifier.verify(bearer(await idp.sign({}, {}, { key: rotated }))));
    expect(error.code).toBe('dependency_unavailable');
    await expect(verifier.verify(bearer(await idp.sign()))).resolves.toMatchObject({ userId: testUserId });
  });

  it('when the issuer rotates to a new key, then it is picked up on first sight after the cooldown', async () => {
    const verifier = verifierFor({ jwksUri: idp.jwksUri, jwksCooldownMs: 1000 });
    const rotated = await createSigningKey();
    const token = await idp.sign({}, {}, { key: rotated });
    await verifier.verify(bearer(await idp.sign()));
    idp.publish(rotated);
    expect((await failure(verifier.verify(bearer(token)))).code).toBe('unauthorized');
    expect(idp.requests.jwks).toBe(1);
    await sleep(1100);
    await expect(verifier.verify(bearer(token))).resolves.toMatchObject({ userId: testUserId });
    expect(idp.requests.jwks).toBe(2);
  });

  it('when 1000 requests carry an unknown kid within one cooldown, then at most one refetch follows the initial fetch', async () => {
    const verifier = verifierFor({ jwksUri: idp.jwksUri });
    const token = bearer(await idp.sign({}, {}, { key: await createSigningKey() }));
    await verifier.verify(bearer(await idp.sign()));
    expect(idp.requests.jwks).toBe(1);
    // Past the default 30 s cooldown of the initial fetch, then frozen: all 1000 fall in the next cooldown.
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(Date.now() + 30_001);

    const concurrent = await Promise.allSettled(Array.from({ length: 500 }, () => verifier.verify(token)));
    for (let i = 0; i < 500; i++) await verifier.verify(token).catch(() => undefined);

    expect(concurrent.every((r) => r.status === 'rejected' && (r.reason as AppError).code === 'unauthorized')).toBe(true);
    expect(idp.requests.jwks).toBe(2);
  });

  it('when 1000 requests carry an unknown kid right after the initial fetch, then no refetch happens', async () => {
    const verifier = verifierFor({ jwksUri: idp.jwksUri });
    await verifier.verify(bearer(await idp.sign()));
    const token = bearer(await idp.sign({}, { kid: 'no-such-kid' }));
    const results = await Promise.allSettled(Array.from({ length: 1000 }, () => verifier.verify(token)));
    expect(results.every((r) => r.status === 'rejected' && (r.reason as AppError).message === "The token's signing key is not one of the issuer's keys")).toBe(true);
    expect(idp.requests.jwks).toBe(1);
  });

  it('when concurrent first requests arrive, then discovery and keys are fetched once', async () => {
    const verifier = verifierFor();
    const token = bearer(await idp.sign());
    await Promise.all(Array.from({ length: 50 }, () => verifier.verify(token)));
    expect(idp.requests).toEqual({ discovery: 1, jwks: 1 });
  });

  it('when a fetch implementation is given, then it is used for discovery and keys', async () => {
    const urls: string[] = [];
    const fetchImpl: typeof fetch = (input, init) => {
      urls.push(String(input));
      return fetch(input, init);
    };
    await verifierFor({ fetchImpl }).verify(bearer(await idp.sign()));
    expect(urls).toEqual([`${idp.issuer}/.well-known/openid-configuration`, idp.jwksUri]);
  });

  it('when a token is refused before signature checks, then no key is fetched', async () => {
    const verifier = verifierFor();
    await failure(verifier.verify(bearer(await idp.sign({ aud: 'https://graph.microsoft.com' }))));
    await failure(verifier.verify('Bearer x.y.z'));
    expect(idp.requests).toEqual({ discovery: 0, jwks: 0 });
  });
});
