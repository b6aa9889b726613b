import { createHash } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { CheckoutAccepted, IdempotencyClaim, IdempotencyStore } from '../../domain/checkout.js';
import { redisCall } from './client.js';

/** How long a completed key answers with its first response. */
export const idempotencyTtlSeconds = 24 * 60 * 60;
/**
 * A claim whose request died without completing frees itself after this. Long enough to outlast a
 * cache outage between publishing and recording the response, so a retry in that window gets 409
 * rather than a second order.
 */
const claimTtlSeconds = 10 * 60;

interface Entry {
  fingerprint: string;
  response?: CheckoutAccepted;
}

// The client's key is hashed: it is arbitrary text and must not shape our key space.
const keyOf = (userId: string, key: string) => `idem:{${userId}}:${createHash('sha256').update(key).digest('base64url')}`;

export function redisIdempotencyStore(redis: Redis): IdempotencyStore {
  return {
    async claim(userId, key, fingerprint): Promise<IdempotencyClaim> {
      const redisKey = keyOf(userId, key);
      const claimed = await redisCall(() => redis.set(redisKey, JSON.stringify({ fingerprint } satisfies Entry), 'EX', claimTtlSeconds, 'NX'));
      if (claimed === 'OK') return { state: 'claimed' };
      const raw = await redisCall(() => redis.get(redisKey));
      if (raw === null) return this.claim(userId, key, fingerprint); // expired between the two calls
      const entry = JSON.parse(raw) as Entry;
      return entry.response
        ? { state: 'completed', fingerprint: entry.fingerprint, response: entry.response }
        : { state: 'in_progress', fingerprint: entry.fingerprint };
    },

    async complete(userId, key, fingerprint, response) {
      await redisCall(() => redis.set(keyOf(userId, key), JSON.stringify({ fingerprint, response } satisfies Entry), 'EX', idempotencyTtlSeconds));
    },

    async release(userId, key) {
      await redisCall(() => redis.del(keyOf(userId, key)));
    },
  };
}
