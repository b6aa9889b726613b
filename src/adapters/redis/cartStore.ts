import type { Redis } from 'ioredis';
import { maxLinesPerCart, maxQuantityPerLine, type CartChange, type CartSnapshot, type CartStore } from '../../domain/cart.js';
import type { CheckoutClaim, CheckoutClaims, ClaimResult } from '../../domain/checkout.js';
import { redisCall } from './client.js';

/** Carts expire after 30 days without a change. */
export const cartTtlSeconds = 30 * 24 * 60 * 60;

// A cart is a hash productId -> quantity, a version counter and, while a checkout is in flight, its
// claim (JSON); scripts keep limits, version and claim atomic. One hash tag: one slot per user.
const keys = (userId: string) => [`cart:{${userId}}:items`, `cart:{${userId}}:version`, `cart:{${userId}}:claim`];

const changeScript = `
-- Setting a quantity while a checkout holds the cart would race the claim's subtraction; adding cannot.
if ARGV[5] == 'set' and redis.call('EXISTS', KEYS[3]) == 1 then return {-3, 0, redis.call('GET', KEYS[3])} end
local current = tonumber(redis.call('HGET', KEYS[1], ARGV[1]) or '0')
if current == 0 and redis.call('HLEN', KEYS[1]) >= tonumber(ARGV[4]) then return {-1, 0} end
local wanted = current + tonumber(ARGV[2])
if ARGV[5] == 'set' then wanted = tonumber(ARGV[2]) end
-- Stock first: "only 35 in stock" helps more than the line limit when both are exceeded.
if wanted > tonumber(ARGV[7]) then return {-4, current} end
if wanted > tonumber(ARGV[3]) then return {-2, current} end
redis.call('HSET', KEYS[1], ARGV[1], wanted)
local version = redis.call('INCR', KEYS[2])
redis.call('EXPIRE', KEYS[1], ARGV[6])
redis.call('EXPIRE', KEYS[2], ARGV[6])
return {wanted, 0, redis.call('HGETALL', KEYS[1]), version}`;

const removeScript = `
if redis.call('EXISTS', KEYS[3]) == 1 and redis.call('HEXISTS', KEYS[1], ARGV[1]) == 1 then return {'claimed', redis.call('GET', KEYS[3])} end
if redis.call('HDEL', KEYS[1], ARGV[1]) == 1 then
  redis.call('INCR', KEYS[2])
  redis.call('EXPIRE', KEYS[2], ARGV[2])
end
return {'ok', redis.call('HGETALL', KEYS[1]), redis.call('GET', KEYS[2]) or '0'}`;

const readScript = `return {redis.call('HGETALL', KEYS[1]), redis.call('GET', KEYS[2]) or '0', redis.call('GET', KEYS[3]) or ''}`;

// Claims the cart for a checkout if it has no claim and is still at the version that was priced.
const claimScript = `
local existing = redis.call('GET', KEYS[3])
if existing then return {'claimed', existing} end
if tonumber(redis.call('GET', KEYS[2]) or '0') ~= tonumber(ARGV[1]) then return {'changed', ''} end
redis.call('SET', KEYS[3], ARGV[2], 'EX', ARGV[3])
return {'ok', ''}`;

// Takes exactly the claimed quantities out (lines added or raised meanwhile keep the rest) and drops
// the claim, once: only the request holding the claim's checkoutId finds it.
const completeScript = `
local raw = redis.call('GET', KEYS[3])
if not raw then return 0 end
local claim = cjson.decode(raw)
if claim.checkoutId ~= ARGV[1] then return 0 end
for _, line in ipairs(claim.lines) do
  if redis.call('HINCRBY', KEYS[1], line.productId, -line.quantity) <= 0 then redis.call('HDEL', KEYS[1], line.productId) end
end
redis.call('DEL', KEYS[3])
redis.call('INCR', KEYS[2])
redis.call('EXPIRE', KEYS[2], ARGV[2])
return 1`;

const releaseScript = `
local raw = redis.call('GET', KEYS[3])
if raw and cjson.decode(raw).checkoutId == ARGV[1] then redis.call('DEL', KEYS[3]) return 1 end
return 0`;

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
  cartRead: Script;
  cartClaim: Script;
  cartComplete: Script;
  cartRelease: Script;
}

function cartCommands(redis: Redis): CartCommands {
  // defineCommand runs the scripts by SHA (EVALSHA), loading them once per connection.
  redis.defineCommand('cartChange', { numberOfKeys: 3, lua: changeScript });
  redis.defineCommand('cartRemove', { numberOfKeys: 3, lua: removeScript });
  redis.defineCommand('cartRead', { numberOfKeys: 3, lua: readScript });
  redis.defineCommand('cartClaim', { numberOfKeys: 3, lua: claimScript });
  redis.defineCommand('cartComplete', { numberOfKeys: 3, lua: completeScript });
  redis.defineCommand('cartRelease', { numberOfKeys: 3, lua: releaseScript });
  return redis as unknown as CartCommands;
}

const claimOf = (raw: string): CheckoutClaim | undefined => (raw ? (JSON.parse(raw) as CheckoutClaim) : undefined);

export function redisCartStore(redis: Redis): CartStore & CheckoutClaims {
  const scripts = cartCommands(redis);

  const change = async (mode: 'add' | 'set', userId: string, productId: string, quantity: number, stock: number): Promise<CartChange> => {
    const [result, current, flat, version] = (await redisCall(() =>
      scripts.cartChange(...keys(userId), productId, quantity, maxQuantityPerLine, maxLinesPerCart, mode, cartTtlSeconds, stock),
    )) as [number, number, string[] | string, number];
    if (result === -4) return { ok: false, reason: 'insufficient_stock', available: stock };
    if (result === -3) return { ok: false, reason: 'checkout_in_progress', claim: claimOf(flat as string)! };
    if (result === -1) return { ok: false, reason: 'line_limit' };
    if (result === -2) return { ok: false, reason: 'quantity_limit', current };
    return { ok: true, cart: snapshotOf(flat as string[], version) };
  };

  const read = async (userId: string) => {
    const [flat, version, claim] = (await redisCall(() => scripts.cartRead(...keys(userId)))) as [string[], string, string];
    return { ...snapshotOf(flat, version), claim: claimOf(claim) };
  };

  return {
    read,
    readForCheckout: read,
    async claim(userId, version, claim): Promise<ClaimResult> {
      const [outcome, existing] = (await redisCall(() => scripts.cartClaim(...keys(userId), version, JSON.stringify(claim), cartTtlSeconds))) as [string, string];
      if (outcome === 'ok') return { ok: true };
      return outcome === 'claimed' ? { ok: false, reason: 'claimed', claim: claimOf(existing)! } : { ok: false, reason: 'changed' };
    },
    async complete(userId, checkoutId) {
      await redisCall(() => scripts.cartComplete(...keys(userId), checkoutId, cartTtlSeconds));
    },
    async release(userId, checkoutId) {
      await redisCall(() => scripts.cartRelease(...keys(userId), checkoutId));
    },
    add: (userId, productId, quantity, stock) => change('add', userId, productId, quantity, stock),
    set: (userId, productId, quantity, stock) => change('set', userId, productId, quantity, stock),
    async remove(userId, productId): Promise<CartChange> {
      const [outcome, flat, version] = (await redisCall(() => scripts.cartRemove(...keys(userId), productId, cartTtlSeconds))) as [string, string[] | string, string];
      if (outcome === 'claimed') return { ok: false, reason: 'checkout_in_progress', claim: claimOf(flat as string)! };
      return { ok: true, cart: snapshotOf(flat as string[], version) };
    },
  };
}
