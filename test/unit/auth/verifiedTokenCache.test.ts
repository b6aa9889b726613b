import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTokenVerifier, type TokenVerifier } from '../../../src/adapters/auth/index.js';
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

  it('when a token is refused, then it is not cached: it is refused again', async () => {
    const token = await issuer.sign({ scp: 'other' });
    await expect(verifier.verify(`Bearer ${token}`)).rejects.toMatchObject({ status: 403 });
    await expect(verifier.verify(`Bearer ${token}`)).rejects.toMatchObject({ status: 403 });
  });
});
