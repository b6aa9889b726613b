import { randomFillSync } from 'node:crypto';

// Random bytes are taken from one buffer refilled 4 KiB at a time (as Node's randomUUID caches its
// entropy): a randomBytes call per id was ~3 % of the host's busy time under checkout load.
const entropy = Buffer.alloc(4096);
let entropyUsed = entropy.length;

/** `count` (at most 4096) fresh random bytes, copied out of the pool. */
export function randomBytesPooled(count: number): Buffer {
  if (count > entropy.length) throw new RangeError(`at most ${entropy.length} pooled random bytes at a time, not ${count}`);
  if (entropyUsed + count > entropy.length) {
    randomFillSync(entropy);
    entropyUsed = 0;
  }
  entropyUsed += count;
  return Buffer.from(entropy.subarray(entropyUsed - count, entropyUsed));
}

/**
 * A UUIDv7 (RFC 9562): 48 bits of Unix milliseconds, then random bits. Ids sort by creation time,
 * so keyset pagination by id lists products in creation order and orders newest first.
 */
export function uuidv7(now: number = Date.now()): string {
  const bytes = randomBytesPooled(16);
  bytes.writeUIntBE(now, 0, 6);
  bytes[6] = (bytes[6]! & 0x0f) | 0x70;
  bytes[8] = (bytes[8]! & 0x3f) | 0x80;
  const hex = bytes.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

const uuidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function isUuid(value: string): boolean {
  return uuidPattern.test(value);
}
