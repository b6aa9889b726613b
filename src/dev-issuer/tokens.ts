import { createHash, randomBytes } from 'node:crypto';
import { SignJWT } from 'jose';
import { DEV_API_CLIENT_ID, DEV_CLIENT_ID, DEV_CLIENT_OBJECT_ID, DEV_TENANT_ID } from './constants.js';
import type { DevIssuerState } from './state.js';

export interface MintUserTokenOptions {
  /** A user name such as `alice`; the same name is always the same user (`oid`). */
  user: string;
  roles?: string[];
  /** Delegated scopes; default `['access_as_user']`. */
  scopes?: string[];
  /** Lifetime; default 3600. */
  expiresInSeconds?: number;
  /** The client the user signed in to (`azp`); default the dev confidential client. */
  clientId?: string;
}

export interface MintIdTokenOptions {
  user: string;
  /** The client the ID token is for (its `aud`). */
  clientId: string;
  /** Echoed from the authorization request, so the client can tie the token to its request. */
  nonce?: string;
}

export interface MintAppTokenOptions {
  clientId?: string;
  objectId?: string;
  roles: readonly string[];
  expiresInSeconds?: number;
}

export interface DevTokenMinter {
  issuer: string;
  mintUserToken(options: MintUserTokenOptions): Promise<string>;
  mintAppToken(options: MintAppTokenOptions): Promise<string>;
  /** An Entra-shaped v2 ID token for a dev user, as returned by the authorization code grant. */
  mintIdToken(options: MintIdTokenOptions): Promise<string>;
}

const userName = /^[A-Za-z0-9._-]{1,64}$/;

/** A dev user name, lower-cased: the same name is always the same user. */
export function checkedUserName(user: string): string {
  if (!userName.test(user)) throw new RangeError('user must be 1-64 letters, digits, dots, dashes or underscores');
  return user.toLowerCase();
}

/** UUID version 5 (SHA-1, RFC 9562) of a name in a namespace: stable ids for dev users. */
export function uuidV5(name: string, namespace: string): string {
  const hash = createHash('sha1')
    .update(Buffer.from(namespace.replace(/-/g, ''), 'hex'))
    .update(name, 'utf8')
    .digest();
  hash[6] = (hash[6]! & 0x0f) | 0x50;
  hash[8] = (hash[8]! & 0x3f) | 0x80;
  const hex = hash.subarray(0, 16).toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** The `oid` of a dev user: a UUID v5 of the lower-cased name in the dev tenant's namespace. */
export function devUserObjectId(user: string): string {
  return uuidV5(user.toLowerCase(), DEV_TENANT_ID);
}

// Entra's sub is pairwise (per user and app); oid is the stable user id.
function pairwiseSubject(oid: string, appId: string): string {
  return createHash('sha256').update(`${oid}:${appId}`).digest('base64url').slice(0, 43);
}

function displayName(user: string): string {
  return user.charAt(0).toUpperCase() + user.slice(1);
}

function lifetime(seconds: number | undefined): number {
  const value = seconds ?? 3600;
  if (!Number.isInteger(value) || value < 1 || value > 24 * 3600) throw new RangeError('expiresInSeconds must be an integer between 1 and 86400');
  return value;
}

/** Signs tokens shaped like Entra v2 access tokens for the API, with the dev issuer's persisted key. */
export function createDevTokenMinter(state: DevIssuerState, issuer: string): DevTokenMinter {
  const sign = (claims: Record<string, unknown>, expiresInSeconds: number, audience = DEV_API_CLIENT_ID) => {
    const now = Math.floor(Date.now() / 1000);
    return new SignJWT({
      ...claims,
      tid: DEV_TENANT_ID,
      uti: randomBytes(16).toString('base64url'),
      ver: '2.0',
    })
      .setProtectedHeader({ alg: 'RS256', typ: 'JWT', kid: state.publicJwk.kid })
      .setIssuer(issuer)
      .setAudience(audience)
      .setIssuedAt(now)
      .setNotBefore(now)
      .setExpirationTime(now + expiresInSeconds)
      .sign(state.signingKey);
  };

  return {
    issuer,
    mintUserToken(options) {
      const user = checkedUserName(options.user);
      const scopes = options.scopes ?? ['access_as_user'];
      const roles = options.roles ?? [];
      const oid = devUserObjectId(user);
      return sign(
        {
          azp: options.clientId ?? DEV_CLIENT_ID,
          azpacr: '0',
          idtyp: 'user',
          name: displayName(user),
          oid,
          preferred_username: `${user}@dev.local`,
          ...(roles.length > 0 ? { roles } : {}),
          scp: scopes.join(' '),
          sub: pairwiseSubject(oid, DEV_API_CLIENT_ID),
        },
        lifetime(options.expiresInSeconds),
      );
    },
    mintIdToken(options) {
      const user = checkedUserName(options.user);
      const oid = devUserObjectId(user);
      return sign(
        {
          name: displayName(user),
          oid,
          preferred_username: `${user}@dev.local`,
          sub: pairwiseSubject(oid, options.clientId),
          ...(options.nonce ? { nonce: options.nonce } : {}),
        },
        3600,
        options.clientId,
      );
    },
    mintAppToken(options) {
      const objectId = options.objectId ?? DEV_CLIENT_OBJECT_ID;
      return sign(
        {
          azp: options.clientId ?? DEV_CLIENT_ID,
          azpacr: '1',
          idtyp: 'app',
          oid: objectId,
          ...(options.roles.length > 0 ? { roles: [...options.roles] } : {}),
          sub: objectId,
        },
        lifetime(options.expiresInSeconds),
      );
    },
  };
}
