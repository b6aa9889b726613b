import { describe, expect, it } from 'vitest';
import { RefreshingToken } from '../../src/adapters/identity/entraToken.js';

/** A credential that hands out numbered tokens living `lifetimeMs` from the (fake) clock's now. */
function fakeCredential(clock: { now: number }, lifetimeMs = 60 * 60_000) {
  const calls: string[] = [];
  let fail = false;
  return {
    calls,
    failNext: () => (fail = true),
    async getToken(scope: string | string[]) {
      calls.push(String(scope));
      if (fail) {
        fail = false;
        throw new Error('identity endpoint unreachable');
      }
      return { token: `token-${calls.length}`, expiresOnTimestamp: clock.now + lifetimeMs };
    },
  };
}

describe('an Entra token used as a password', () => {
  const scope = 'https://ossrdbms-aad.database.windows.net/.default';

  it('when the token has more than the margin left, then it is reused without asking Entra again', async () => {
    const clock = { now: 0 };
    const credential = fakeCredential(clock);
    const token = new RefreshingToken(credential, scope, { refreshBeforeMs: 5 * 60_000, now: () => clock.now });
    expect(await token.get()).toBe('token-1');
    clock.now = 54 * 60_000;
    expect(await token.get()).toBe('token-1');
    expect(credential.calls).toEqual([scope]);
  });

  it('when the token is within the margin of its expiry, then a new one is fetched before it runs out', async () => {
    const clock = { now: 0 };
    const credential = fakeCredential(clock);
    const token = new RefreshingToken(credential, scope, { refreshBeforeMs: 5 * 60_000, now: () => clock.now });
    await token.get();
    expect(token.refreshAt()).toBe(55 * 60_000);
    clock.now = 55 * 60_000 + 1;
    expect(await token.get()).toBe('token-2');
    expect(token.refreshAt()).toBe(clock.now + 55 * 60_000);
  });

  it('when many connections ask at once, then one fetch serves them all', async () => {
    const clock = { now: 0 };
    const credential = fakeCredential(clock);
    const token = new RefreshingToken(credential, scope, { now: () => clock.now });
    expect(await Promise.all(Array.from({ length: 10 }, () => token.get()))).toEqual(Array(10).fill('token-1'));
    expect(credential.calls).toHaveLength(1);
  });

  it('when a refresh fails while the token is still valid, then the valid token is used and the next call fetches again', async () => {
    const clock = { now: 0 };
    const credential = fakeCredential(clock);
    const token = new RefreshingToken(credential, scope, { refreshBeforeMs: 5 * 60_000, now: () => clock.now });
    await token.get();
    clock.now = 58 * 60_000;
    credential.failNext();
    expect(await token.get()).toBe('token-1');
    expect(await token.get()).toBe('token-3');
  });

  it('when a refresh fails after the token expired, then the failure reaches the caller', async () => {
    const clock = { now: 0 };
    const credential = fakeCredential(clock);
    const token = new RefreshingToken(credential, scope, { now: () => clock.now });
    await token.get();
    clock.now = 61 * 60_000;
    credential.failNext();
    await expect(token.get()).rejects.toThrow('identity endpoint unreachable');
  });
});
