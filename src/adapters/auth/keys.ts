import { createLocalJWKSet, createRemoteJWKSet, customFetch, errors, type JWTVerifyGetKey, type RemoteJWKSet } from 'jose';
import { dependencyUnavailable } from '../../errors.js';

export interface SigningKeysOptions {
  issuer: string;
  jwksUri?: string;
  cooldownMs: number;
  fetchImpl?: typeof fetch;
  timeoutMs?: number;
}

// Errors that say the token names a key the issuer does not have (or cannot be used): a token problem.
const tokenKeyErrors = new Set(['ERR_JWKS_NO_MATCHING_KEY', 'ERR_JWKS_MULTIPLE_MATCHING_KEYS', 'ERR_JOSE_NOT_SUPPORTED']);

function isTokenKeyError(error: unknown): boolean {
  return error instanceof errors.JOSEError && tokenKeyErrors.has(error.code);
}

const unavailable = (cause: unknown) => dependencyUnavailable("The identity provider's signing keys", cause);

async function discoverJwksUri(issuer: string, fetchImpl: typeof fetch, timeoutMs: number): Promise<string> {
  const url = `${issuer.replace(/\/+$/, '')}/.well-known/openid-configuration`;
  const response = await fetchImpl(url, {
    headers: { accept: 'application/json' },
    redirect: 'manual',
    signal: AbortSignal.timeout(timeoutMs),
  });
  if (response.status !== 200) throw new Error(`OpenID discovery at ${url} answered ${response.status}`);
  const document = (await response.json()) as { jwks_uri?: unknown };
  if (typeof document.jwks_uri !== 'string') throw new Error(`OpenID discovery at ${url} has no jwks_uri`);
  return new URL(document.jwks_uri).href;
}

/**
 * The key lookup for jose's jwtVerify. jose's remote key set caches the keys, shares one fetch among
 * concurrent callers and refetches on an unknown `kid` at most once per cooldown. Around it: the JWKS
 * location comes from OpenID discovery on first use (a failed discovery is retried by a later call),
 * and when the key set cannot be fetched, keys fetched earlier keep serving (for one cooldown before
 * the next attempt, so an outage does not put a network timeout on every request). Only when no
 * fetched key fits does an outage surface, as dependency_unavailable (503).
 */
export function createSigningKeys(options: SigningKeysOptions): JWTVerifyGetKey {
  const fetchImpl = options.fetchImpl ?? ((input, init) => fetch(input, init));
  const timeoutMs = options.timeoutMs ?? 5000;
  let remote: Promise<RemoteJWKSet> | undefined;
  let staleUntil = 0;

  const remoteSet = (): Promise<RemoteJWKSet> => {
    if (remote) return remote;
    const pending = (options.jwksUri ? Promise.resolve(options.jwksUri) : discoverJwksUri(options.issuer, fetchImpl, timeoutMs)).then(
      (uri) =>
        createRemoteJWKSet(new URL(uri), {
          cooldownDuration: options.cooldownMs,
          timeoutDuration: timeoutMs,
          [customFetch]: fetchImpl,
        }),
    );
    remote = pending;
    pending.catch(() => {
      if (remote === pending) remote = undefined;
    });
    return pending;
  };

  // jose hands out a copy of its keys on each call; one local set per distinct key set keeps imports cached.
  let stale: { json: string; lookup: ReturnType<typeof createLocalJWKSet> } | undefined;
  const fromStale = async (set: RemoteJWKSet, fetchError: unknown, ...args: Parameters<JWTVerifyGetKey>) => {
    const cached = set.jwks();
    if (!cached) throw unavailable(fetchError);
    const json = JSON.stringify(cached);
    if (stale?.json !== json) stale = { json, lookup: createLocalJWKSet(cached) };
    try {
      return await stale.lookup(...args);
    } catch (error) {
      // The token's key may be a new one we could not fetch: the client should retry, not discard its token.
      if (error instanceof errors.JWKSNoMatchingKey) throw unavailable(fetchError);
      throw error;
    }
  };

  return async (...args) => {
    let set: RemoteJWKSet;
    try {
      set = await remoteSet();
    } catch (error) {
      throw unavailable(error);
    }
    if (Date.now() < staleUntil) return fromStale(set, new Error('the key set was unreachable moments ago'), ...args);
    try {
      return await set(...args);
    } catch (error) {
      if (isTokenKeyError(error)) throw error;
      if (set.jwks()) staleUntil = Date.now() + options.cooldownMs;
      return fromStale(set, error, ...args);
    }
  };
}
