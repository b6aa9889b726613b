import { Redis } from 'ioredis';
import { dependencyUnavailable } from '../../errors.js';
import type { RefreshingToken } from '../identity/entraToken.js';

/**
 * A Redis client for `url`. With `entraToken` (Azure), it signs in as the URL's user (the managed
 * identity's object id) with an Entra access token as the password, and signs in again with a fresh
 * token before the current one expires: Redis closes a connection whose token ran out.
 * https://learn.microsoft.com/azure/redis/entra-for-authentication
 */
export function createRedis(url: string, entraToken?: RefreshingToken): Redis {
  const redis = new Redis(url, {
    // Fail a command within ~2 s while Redis is down (a 503 for the caller) instead of queueing it forever.
    commandTimeout: 2_000,
    connectTimeout: 2_000,
    maxRetriesPerRequest: 1,
    retryStrategy: (attempt) => Math.min(attempt * 200, 2_000),
    // With an Entra token, connect once the first token is in hand (below).
    lazyConnect: entraToken !== undefined,
  });
  // ioredis reconnects by itself; without a listener an 'error' event would crash the process.
  redis.on('error', () => undefined);
  if (entraToken) reauthenticateBeforeExpiry(redis, entraToken);
  return redis;
}

/** Keeps `redis.options.password` (used on every reconnect) a live token, and re-AUTHs the open connection. */
function reauthenticateBeforeExpiry(redis: Redis, entraToken: RefreshingToken): void {
  const username = redis.options.username ?? 'default';
  let timer: NodeJS.Timeout | undefined;
  const renew = async (): Promise<void> => {
    try {
      const token = await entraToken.get();
      redis.options.password = token;
      if (redis.status === 'ready') await redis.auth(username, token);
    } catch {
      // Unreachable identity endpoint or Redis: the next round (or the next reconnect) tries again.
    }
    if (redis.status === 'end') return;
    const next = (entraToken.refreshAt() ?? Date.now()) - Date.now();
    timer = setTimeout(() => void renew(), Math.max(next, 30_000));
    timer.unref();
  };
  redis.once('end', () => clearTimeout(timer));
  // The first connection waits for the first token: ioredis connects only after this resolves.
  void renew().then(async () => {
    if (redis.status === 'wait') await redis.connect().catch(() => undefined);
  });
}

/** Runs a Redis call; any failure (down, timeout) becomes a 503 AppError. */
export async function redisCall<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    throw dependencyUnavailable('redis', error);
  }
}
