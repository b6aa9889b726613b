import type { Principal } from './principal.js';

interface Entry {
  principal: Principal;
  expiresAtMs: number;
  bytes: number;
}

// Map entry, object headers, arrays: a generous flat allowance so small tokens are not undercounted.
const entryOverheadBytes = 256;

/** What an entry holds in memory: tokens are ASCII (one byte a character); claims may be UTF-16. */
function sizeOf(token: string, principal: Principal): number {
  const claims = [principal.userId, principal.tenantId, ...principal.scopes, ...principal.roles];
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

  get(token: string, nowMs: number): Principal | undefined {
    const entry = this.#entries.get(token);
    if (!entry) return undefined;
    this.#entries.delete(token);
    if (nowMs >= entry.expiresAtMs) {
      this.#bytes -= entry.bytes;
      return undefined;
    }
    this.#entries.set(token, entry);
    return entry.principal;
  }

  set(token: string, principal: Principal, expiresAtMs: number): void {
    const bytes = sizeOf(token, principal);
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
    this.#entries.set(token, { principal, expiresAtMs, bytes });
    this.#bytes += bytes;
  }
}
