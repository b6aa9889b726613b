import type { Redis } from 'ioredis';
import { maxLinesPerCart, maxQuantityPerLine, type CartChange, type CartSnapshot, type CartStore } from '../../domain/cart.js';
import { redisCall } from './client.js';

/** Carts expire after 30 days without a change. */
export const cartTtlSeconds = 30 * 24 * 60 * 60;

// A cart is a hash productId -> quantity plus a version counter; scripts keep limits and version atomic.
const keys = (userId: string) => [`cart:{${userId}}:items`, `cart:{${userId}}:version`];

const changeScript = `
local current = tonumber(redis.call('HGET', KEYS[1], ARGV[1]) or '0')
if current == 0 and redis.call('HLEN', KEYS[1]) >= tonumber(ARGV[4]) then return {-1, 0} end
local wanted = current + tonumber(ARGV[2])
if ARGV[5] == 'set' then wanted = tonumber(ARGV[2]) end
if wanted > tonumber(ARGV[3]) then return {-2, current} end
redis.call('HSET', KEYS[1], ARGV[1], wanted)
local version = redis.call('INCR', KEYS[2])
redis.call('EXPIRE', KEYS[1], ARGV[6])
redis.call('EXPIRE', KEYS[2], ARGV[6])
return {wanted, 0, redis.call('HGETALL', KEYS[1]), version}`;

const removeScript = `
if redis.call('HDEL', KEYS[1], ARGV[1]) == 1 then
  redis.call('INCR', KEYS[2])
  redis.call('EXPIRE', KEYS[2], ARGV[2])
end
return {redis.call('HGETALL', KEYS[1]), redis.call('GET', KEYS[2]) or '0'}`;

const clearScript = `
if tonumber(redis.call('GET', KEYS[2]) or '0') ~= tonumber(ARGV[1]) then return 0 end
redis.call('DEL', KEYS[1])
redis.call('INCR', KEYS[2])
return 1`;

const readScript = `return {redis.call('HGETALL', KEYS[1]), redis.call('GET', KEYS[2]) or '0'}`;

type Script = (...args: (string | number)[]) => Promise<unknown>;

/** A cart from HGETALL's flat [field, value, ...] reply and the version counter. */
function snapshotOf(flat: string[], version: string | number): CartSnapshot {
  const lines = [];
  for (let i = 0; i < flat.length; i += 2) lines.push({ productId: flat[i]!, quantity: Number(flat[i + 1]) });
  return { lines, version: Number(version) };
}
interface CartCommands {
  cartChange: Script;
  cartRemove: Script;
  cartClear: Script;
  cartRead: Script;
}

export function redisCartStore(redis: Redis): CartStore {
  // defineCommand runs the scripts by SHA (EVALSHA), loading them once per connection.
  redis.defineCommand('cartChange', { numberOfKeys: 2, lua: changeScript });
  redis.defineCommand('cartRemove', { numberOfKeys: 2, lua: removeScript });
  redis.defineCommand('cartClear', { numberOfKeys: 2, lua: clearScript });
  redis.defineCommand('cartRead', { numberOfKeys: 2, lua: readScript });
  const scripts = redis as unknown as CartCommands;

  const change = async (mode: 'add' | 'set', userId: string, productId: string, quantity: number): Promise<CartChange> => {
    const [result, current, flat, version] = (await redisCall(() =>
      scripts.cartChange(...keys(userId), productId, quantity, maxQuantityPerLine, maxLinesPerCart, mode, cartTtlSeconds),
    )) as [number, number, string[], number];
    if (result === -1) return { ok: false, reason: 'line_limit' };
    if (result === -2) return { ok: false, reason: 'quantity_limit', current };
    return { ok: true, cart: snapshotOf(flat, version) };
  };

  return {
    async read(userId) {
      const [flat, version] = (await redisCall(() => scripts.cartRead(...keys(userId)))) as [string[], string];
      return snapshotOf(flat, version);
    },
    add: (userId, productId, quantity) => change('add', userId, productId, quantity),
    set: (userId, productId, quantity) => change('set', userId, productId, quantity),
    async remove(userId, productId) {
      const [flat, version] = (await redisCall(() => scripts.cartRemove(...keys(userId), productId, cartTtlSeconds))) as [string[], string];
      return snapshotOf(flat, version);
    },
    async clearIfUnchanged(userId, version) {
      return (await redisCall(() => scripts.cartClear(...keys(userId), version))) === 1;
    },
  };
}
