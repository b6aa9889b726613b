import { Redis } from 'ioredis';
import { dependencyUnavailable } from '../../errors.js';

export function createRedis(url: string): Redis {
  const redis = new Redis(url, {
    // Fail a command within ~2 s while Redis is down (a 503 for the caller) instead of queueing it forever.
    commandTimeout: 2_000,
    connectTimeout: 2_000,
    maxRetriesPerRequest: 1,
    retryStrategy: (attempt) => Math.min(attempt * 200, 2_000),
    lazyConnect: false,
  });
  // ioredis reconnects by itself; without a listener an 'error' event would crash the process.
  redis.on('error', () => undefined);
  return redis;
}

/** Runs a Redis call; any failure (down, timeout) becomes a 503 AppError. */
export async function redisCall<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    throw dependencyUnavailable('redis', error);
  }
}
