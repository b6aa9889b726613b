import type { JWSHeaderParameters } from 'jose';
import type { Principal } from './principal.js';

/** A token that passed verification: who it names, and the key and header its signature was checked with. */
export interface VerifiedToken {
  principal: Principal;
  /** The key the signature verified against, as the key lookup handed it out. */
  key: unknown;
  header: JWSHeaderParameters;
}

interface Entry {
  verified: VerifiedToken;
  expiresAtMs: number;
  bytes: number;
}

// Map entry, object headers, arrays, the key's reference and the header's alg/typ: a generous flat allowance so small tokens are not undercounted.
const entryOverheadBytes = 256;

/** What an entry holds in memory: tokens are ASCII (one byte a character); claims and the header's kid may be UTF-16. */
function sizeOf(token: string, { principal, header }: VerifiedToken): number {
  const claims = [principal.userId, principal.tenantId, ...principal.scopes, ...principal.roles, header.kid ?? ''];
  return entryOverheadBytes + token.length + 2 * claims.reduce((total, claim) => total + claim.length, 0);
}

/**
 * Verified tokens by their exact text until they expire, bounded by the bytes they hold: when a new
 * one would pass the bound, the least recently used go first. A Map keeps insertion order, so an
 * entry moved to the end on every hit leaves the least recently used at the front.
 */
export class VerifiedTokenCache {
  readonly #entries = new Map<string, Entry>();
  #bytes = 0;

  constructor(readonly maxBytes: number) {}

  /** Bytes the cached entries hold, by the estimate the bound uses. */
  get bytes(): number {
    return this.#bytes;
  }

  get size(): number {
    return this.#entries.size;
  }

  get(token: string, nowMs: number): VerifiedToken | undefined {
    const entry = this.#entries.get(token);
    if (!entry) return undefined;
    this.#entries.delete(token);
    if (nowMs >= entry.expiresAtMs) {
      this.#bytes -= entry.bytes;
      return undefined;
    }
    this.#entries.set(token, entry);
    return entry.verified;
  }

  delete(token: string): void {
    const entry = this.#entries.get(token);
    if (!entry) return;
    this.#entries.delete(token);
    this.#bytes -= entry.bytes;
  }

  set(token: string, verified: VerifiedToken, expiresAtMs: number): void {
    const bytes = sizeOf(token, verified);
    if (bytes > this.maxBytes) return;
    const previous = this.#entries.get(token);
    if (previous) {
      this.#entries.delete(token);
      this.#bytes -= previous.bytes;
    }
    for (const [oldest, entry] of this.#entries) {
      if (this.#bytes + bytes <= this.maxBytes) break;
      this.#entries.delete(oldest);
      this.#bytes -= entry.bytes;
    }
    this.#entries.set(token, { verified, expiresAtMs, bytes });
    this.#bytes += bytes;
  }
}
