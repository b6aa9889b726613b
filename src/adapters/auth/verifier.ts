import { decodeJwt, decodeProtectedHeader, errors, jwtVerify, type FlattenedJWSInput, type JWSHeaderParameters, type JWTPayload } from 'jose';
import { z } from 'zod';
import { AppError } from '../../errors.js';
import { forbidden, invalidToken } from './challenge.js';
import { createSigningKeys } from './keys.js';
import { appRoles, userScope, type Principal } from './principal.js';
import { VerifiedTokenCache } from './verifiedTokenCache.js';

export interface TokenVerifier {
  /** Resolves the caller of a request from its Authorization header, or throws AppError (401, 403 or 503). */
  verify(authorizationHeader: string | null | undefined): Promise<Principal>;
}

export interface TokenVerifierOptions {
  tenantId: string;
  /** The API's application (client) id; accepted audiences are it and `api://<it>`. */
  clientId: string;
  /** The exact `iss` tokens must carry, e.g. `https://login.microsoftonline.com/<tenant>/v2.0`. */
  issuer: string;
  /** Signing keys; default: `jwks_uri` of `<issuer>/.well-known/openid-configuration`. */
  jwksUri?: string;
  /** Allowed clock skew for `exp`/`nbf`; default 60, at most 60. */
  clockToleranceSeconds?: number;
  /** Least time between two key set fetches caused by an unknown `kid`; default 30 000. */
  jwksCooldownMs?: number;
  fetchImpl?: typeof fetch;
  /** Memory the verified-token cache may hold; default 16 MiB (about 10 000 Entra tokens). */
  tokenCacheMaxBytes?: number;
}

/** Tokens above this size are refused before any parsing. Entra access tokens are well below it. */
export const maxTokenBytes = 8 * 1024;

const graphAudiences = new Set(['00000003-0000-0000-c000-000000000000', 'https://graph.microsoft.com', 'https://graph.microsoft.com/']);
const bearer = /^bearer +([A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*) *$/i;

function audiences(payload: JWTPayload): string[] {
  if (typeof payload.aud === 'string') return [payload.aud];
  return Array.isArray(payload.aud) ? payload.aud.filter((a): a is string => typeof a === 'string') : [];
}

function describeJoseError(error: unknown, clientId: string): AppError {
  if (error instanceof AppError) return error;
  if (error instanceof errors.JWTExpired) return invalidToken('The token has expired', error);
  if (error instanceof errors.JWTClaimValidationFailed) {
    const missing = error.reason === 'missing';
    switch (error.claim) {
      case 'nbf':
        return invalidToken('The token is not valid yet (nbf is in the future)', error);
      case 'exp':
        return invalidToken(missing ? 'The token has no expiry (exp)' : 'The token has an invalid expiry (exp)', error);
      case 'iss':
        return invalidToken('The token was not issued by the expected issuer', error);
      case 'aud':
        return invalidToken(
          `The token's audience is not this API; request a token for api://${clientId}/access_as_user (users) or api://${clientId}/.default (apps)`,
          error,
        );
      default:
        return invalidToken(`The token's "${error.claim}" claim is invalid`, error);
    }
  }
  if (error instanceof errors.JOSEAlgNotAllowed) return invalidToken('The token must be signed with RS256', error);
  if (error instanceof errors.JWSSignatureVerificationFailed) return invalidToken('The token signature is invalid', error);
  if (error instanceof errors.JWKSNoMatchingKey || error instanceof errors.JWKSMultipleMatchingKeys) {
    return invalidToken("The token's signing key is not one of the issuer's keys", error);
  }
  if (error instanceof errors.JWSInvalid || error instanceof errors.JWTInvalid) return invalidToken('The token is malformed', error);
  return invalidToken('The token is invalid', error);
}

/**
 * Verifies Microsoft Entra ID v2 access tokens for this API: RS256 signature from the issuer's keys,
 * `iss`, `aud`, `exp`/`nbf`, `ver` 2.0 and `tid`; then delegated tokens need the `access_as_user`
 * scope and app-only tokens one of the API's app roles (any app in a tenant can get an app-only
 * token for any API there, so one without a role of ours must be refused).
 */
export function createTokenVerifier(options: TokenVerifierOptions): TokenVerifier {
  const clockTolerance = options.clockToleranceSeconds ?? 60;
  if (!(clockTolerance >= 0 && clockTolerance <= 60)) throw new RangeError('clockToleranceSeconds must be between 0 and 60');
  const getKey = createSigningKeys({
    issuer: options.issuer,
    jwksUri: options.jwksUri,
    cooldownMs: options.jwksCooldownMs ?? 30_000,
    fetchImpl: options.fetchImpl,
  });
  const { clientId, tenantId } = options;
  const acceptedAudiences = [clientId, `api://${clientId}`];

  const extractToken = (header: string | null | undefined): string => {
    if (header === null || header === undefined || header.trim() === '') {
      throw invalidToken('The request has no bearer token in its Authorization header');
    }
    // Checked before any pattern matching or decoding so huge input costs nothing.
    if (header.length > maxTokenBytes + 64) throw invalidToken('The token is larger than 8 KB');
    if (!/^bearer(\s|$)/i.test(header)) throw invalidToken('The Authorization header must use the Bearer scheme');
    const token = bearer.exec(header)?.[1];
    if (!token) throw invalidToken('The bearer token is not a JWT');
    if (token.length > maxTokenBytes) throw invalidToken('The token is larger than 8 KB');
    return token;
  };

  // Checks on the unverified token, only to refuse early with a helpful description; all of them are 401s anyway.
  const precheck = (token: string): void => {
    let alg: unknown;
    let payload: JWTPayload;
    try {
      alg = decodeProtectedHeader(token).alg;
      payload = decodeJwt(token);
    } catch (error) {
      throw invalidToken('The bearer token is not a JWT', error);
    }
    if (alg !== 'RS256') throw invalidToken('The token must be signed with RS256');
    if (audiences(payload).some((aud) => graphAudiences.has(aud))) {
      throw invalidToken(
        `The token is for Microsoft Graph, not this API: the client must request scope api://${clientId}/access_as_user (users) or api://${clientId}/.default (apps)`,
      );
    }
    if (payload.ver === '1.0') {
      throw invalidToken('The token is an Entra v1.0 token; this API accepts v2.0 tokens only (set accessTokenAcceptedVersion to 2 in its app manifest)');
    }
  };

  // A signature check costs ~0.2 ms of CPU and clients send the same token for an hour. A cached
  // token is accepted only while the key lookup still hands out the very key its signature was
  // checked with: the lookup refetches the key set when it is older than jose's cache age (10 min)
  // or a token names an unknown kid, and a key taken out of the set (rotated out, revoked) then
  // refuses its cached tokens on the next request, as it would refuse them uncached.
  const verified = new VerifiedTokenCache(options.tokenCacheMaxBytes ?? 16 * 1024 * 1024);
  const signedInput = (token: string): FlattenedJWSInput => {
    const [protectedHeader, payload, signature] = token.split('.') as [string, string, string];
    return { protected: protectedHeader, payload, signature };
  };
  const keyStillCurrent = async (token: string, { key, header }: { key: unknown; header: JWSHeaderParameters }): Promise<boolean> => {
    try {
      return (await getKey(header as Parameters<typeof getKey>[0], signedInput(token))) === key;
    } catch {
      return false; // whatever the lookup says now (no such key, keys unavailable), a full verification says it again
    }
  };

  const verifyToken = async (token: string): Promise<Principal> => {
    precheck(token);
    let claims: JWTPayload;
    let header: JWSHeaderParameters;
    let key: unknown;
    try {
      ({ payload: claims, protectedHeader: header } = await jwtVerify(
        token,
        async (...args: Parameters<typeof getKey>) => (key = await getKey(...args)) as Awaited<ReturnType<typeof getKey>>,
        {
          algorithms: ['RS256'],
          issuer: options.issuer,
          audience: acceptedAudiences,
          clockTolerance,
          requiredClaims: ['exp'],
        },
      ));
    } catch (error) {
      throw describeJoseError(error, clientId);
    }
    const remember = (principal: Principal): Principal => {
      const frozen = Object.freeze(principal);
      verified.set(token, { principal: frozen, key, header }, (claims.exp! + clockTolerance) * 1000);
      return frozen;
    };
    if (claims.ver !== '2.0') throw invalidToken('The token is not an Entra v2.0 access token (ver must be "2.0")');
    if (typeof claims.tid !== 'string' || claims.tid.toLowerCase() !== tenantId.toLowerCase()) throw invalidToken('The token was issued for another tenant');
    const userId = typeof claims.oid === 'string' && claims.oid ? claims.oid : claims.sub;
    if (!userId) throw invalidToken('The token identifies no user or application (no oid or sub)');
    if (claims.scp !== undefined && typeof claims.scp !== 'string') throw invalidToken('The token has an invalid scp claim');
    if (claims.roles !== undefined && !(Array.isArray(claims.roles) && claims.roles.every((r) => typeof r === 'string'))) {
      throw invalidToken('The token has an invalid roles claim');
    }
    const roles = Object.freeze([...((claims.roles as string[] | undefined) ?? [])]);
    // Entra marks app-only tokens with the optional claim idtyp "app"; without it, no scp means no user.
    if (typeof claims.scp === 'string' && claims.idtyp !== 'app') {
      const scopes = Object.freeze(claims.scp.split(' ').filter(Boolean));
      if (!scopes.includes(userScope)) throw forbidden(`The token lacks the delegated scope ${userScope}`);
      const email = emailOf(claims);
      return remember({ userId, tenantId, kind: 'user', scopes, roles, ...(email ? { email } : {}) });
    }
    if (!roles.some((role) => (appRoles as readonly string[]).includes(role))) {
      throw forbidden(`An app-only token must carry one of this API's app roles: ${appRoles.join(', ')}`);
    }
    return remember({ userId, tenantId, kind: 'app', scopes: Object.freeze([]), roles });
  };

  return {
    async verify(authorizationHeader) {
      const token = extractToken(authorizationHeader);
      const hit = verified.get(token, Date.now());
      if (hit) {
        if (await keyStillCurrent(token, hit)) return hit.principal;
        verified.delete(token);
      }
      return verifyToken(token);
    },
  };
}

const emailAddress = z.email().max(320);

/**
 * Where the user's notifications go: the `email` claim (an optional claim in Entra), else
 * `preferred_username` when it is an address (a user principal name usually is; it may also be a
 * phone number, then there is none).
 */
function emailOf(claims: Record<string, unknown>): string | undefined {
  for (const claim of [claims.email, claims.preferred_username]) {
    const parsed = emailAddress.safeParse(claim);
    if (parsed.success) return parsed.data;
  }
  return undefined;
}
