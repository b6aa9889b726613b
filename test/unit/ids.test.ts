import { describe, expect, it } from 'vitest';
import { isUuid, randomBytesPooled, uuidv7 } from '../../src/domain/ids.js';

describe('ids', () => {
  it('when 10 000 UUIDv7 are made (the entropy pool refilled ~40 times), then each is a version 7, RFC 9562 variant UUID, all distinct', () => {
    const ids = Array.from({ length: 10_000 }, () => uuidv7());
    for (const id of ids) {
      expect(isUuid(id)).toBe(true);
      expect(id[14]).toBe('7');
      expect('89ab').toContain(id[19]);
    }
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('when ids are made at later milliseconds, then they sort in that order', () => {
    const ids = [1_700_000_000_000, 1_700_000_000_001, 1_800_000_000_000].map((ms) => uuidv7(ms));
    expect([...ids].sort()).toEqual(ids);
    expect(ids[0]!.slice(0, 13)).toBe('018bcfe5-6800');
  });

  it('when pooled random bytes are taken and the pool is refilled after, then the bytes a caller got stay as they were', () => {
    const first = randomBytesPooled(16);
    const copy = Buffer.from(first);
    const later = Array.from({ length: 300 }, () => randomBytesPooled(16)); // 4 800 bytes: at least one refill
    expect(first).toEqual(copy);
    expect(later.some((bytes) => bytes.equals(first))).toBe(false);
  });
});
