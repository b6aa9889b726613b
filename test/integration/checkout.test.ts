import fc from 'fast-check';
import type { Redis } from 'ioredis';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { postgresCheckoutLedger } from '../../src/adapters/postgres/checkoutLedger.js';
import { postgresOrderStore } from '../../src/adapters/postgres/orderStore.js';
import { OutboxRelay } from '../../src/adapters/postgres/outbox.js';
import { redisCartStore } from '../../src/adapters/redis/cartStore.js';
import { createRedis } from '../../src/adapters/redis/client.js';
import { cartService } from '../../src/domain/cart.js';
import { checkoutService, staleClaimMs, type CheckoutAccepted, type CheckoutClaim, type CheckoutClaims, type CheckoutLedger } from '../../src/domain/checkout.js';
import type { CartCheckedOut, EventPublisher } from '../../src/domain/events.js';
import { uuidv7 } from '../../src/domain/ids.js';
import { placeOrderFromCheckout } from '../../src/domain/orders.js';
import type { CatalogEntry, ProductCatalog } from '../../src/domain/products.js';
import { postgresUrl } from '../support/pipeline.js';
import { onStatements } from '../support/statements.js';
import { uniqueUser as uniqueName } from '../support/shop.js';

/*
 * Checkout against the real Redis and Postgres adapters, in process: what clients (double clicks,
 * tabs, retries with and without keys), interleavings and crashes can do to one cart. "Settled" below
 * means: every request has answered and every claim was completed or given up.
 */

/** Stock never limits these carts: what is tested is the cart and checkout, not the stock check. */
const plentyOfStock = 1_000_000;
const products: CatalogEntry[] = ['A', 'B', 'C'].map((name, i) => ({ id: uuidv7(), name: `Model product ${name}`, priceCents: 100 * (i + 1) }));
const catalog: ProductCatalog = {
  get: async (id) => products.find((p) => p.id === id),
  getMany: async (ids) => new Map(products.filter((p) => ids.includes(p.id)).map((p) => [p.id, p])),
  stockOf: async (id) => (products.some((p) => p.id === id) ? plentyOfStock : undefined),
};
const noTrace = {};

let redis: Redis;
let db: pg.Pool;
/** Users this file made: their checkouts have no orders (no consumers run here), so they are removed afterwards, lest a host's resolver publish them again. */
const users: string[] = [];
const uniqueUser = (prefix: string) => {
  const user = uniqueName(prefix);
  users.push(user);
  return user;
};
let relay: OutboxRelay;
const publisher: EventPublisher = { publish: async () => undefined, check: async () => undefined };

beforeAll(async () => {
  redis = createRedis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379');
  db = new pg.Pool({ connectionString: postgresUrl, max: 8 });
  relay = new OutboxRelay(db, publisher);
  for (const p of products) await db.query('INSERT INTO products (id, name, price, stock) VALUES ($1, $2, $3, 1000000)', [p.id, p.name, p.priceCents / 100]);
});
afterAll(async () => {
  await relay?.flush();
  if (db) {
    await db.query("DELETE FROM outbox WHERE payload->>'userId' = ANY($1::text[])", [users]);
    await db.query('DELETE FROM orders WHERE user_id = ANY($1::text[])', [users]);
    await db.query('DELETE FROM checkouts WHERE user_id = ANY($1::text[])', [users]);
    await db.query('DELETE FROM products WHERE id = ANY($1::uuid[])', [products.map((p) => p.id)]);
  }
  for (const user of users) await redis?.del(`cart:{${user}}:items`, `cart:{${user}}:version`, `cart:{${user}}:claim`);
  await redis?.quit();
  await db?.end();
});

interface Adapters {
  claims: CheckoutClaims;
  ledger: CheckoutLedger;
}

function realAdapters(): Adapters & { carts: ReturnType<typeof redisCartStore> } {
  const carts = redisCartStore(redis);
  return { carts, claims: carts, ledger: postgresCheckoutLedger(db, relay) };
}

function shopFor(adapters: Adapters, now: () => number = Date.now) {
  const carts = redisCartStore(redis);
  const checkout = checkoutService({ claims: adapters.claims, ledger: adapters.ledger, products: catalog, now });
  return { carts, checkout, cart: cartService(carts, catalog, (userId, claim) => checkout.settleStaleClaim(userId, claim)) };
}

/** What Postgres and Redis hold for a user once everything settled. */
async function settledState(userId: string) {
  const { rows } = await db.query<{ order_id: string; checkout_id: string; event: CartCheckedOut }>(
    "SELECT order_id, checkout_id, event FROM checkouts WHERE user_id = $1 AND state <> 'ABANDONED'",
    [userId],
  );
  const ordered = new Map<string, number>();
  for (const row of rows) for (const item of row.event.items) ordered.set(item.productId, (ordered.get(item.productId) ?? 0) + item.quantity);
  const cart = await redisCartStore(redis).read(userId);
  return { accepted: rows, ordered, cart: new Map(cart.lines.map((l) => [l.productId, l.quantity])), claim: cart.claim };
}

const checkoutRequest = (userId: string, key?: string, body = '') => ({ userId, idempotencyKey: key, body, trace: noTrace });

async function outcome<T>(work: Promise<T>): Promise<T | { code: string }> {
  return work.catch((error: { code?: string }) => ({ code: error.code ?? String(error) }));
}

describe('one order per cart, whatever the client sends', () => {
  it('when two checkouts without a key arrive at once (a double click), then both answer with the same orderId and one checkout is accepted', async () => {
    for (let run = 0; run < 20; run++) {
      const user = uniqueUser('double');
      const { carts, checkout } = shopFor(realAdapters());
      await carts.add(user, products[0]!.id, 1, plentyOfStock);
      const answers = await Promise.all([outcome(checkout.checkout(checkoutRequest(user))), outcome(checkout.checkout(checkoutRequest(user)))]);
      const state = await settledState(user);
      expect(state.accepted).toHaveLength(1);
      for (const answer of answers) {
        if ('orderId' in answer) expect(answer.orderId).toBe(state.accepted[0]!.order_id);
        else expect(answer.code).toBe('cart_empty'); // the second arrived after the first had emptied the cart
      }
      expect(state.cart.size).toBe(0);
    }
  });

  it('when eight tabs check out one cart with different keys, then one order holds the cart once, and every 202 names it', async () => {
    const user = uniqueUser('tabs');
    const { carts, checkout } = shopFor(realAdapters());
    await carts.add(user, products[0]!.id, 2, plentyOfStock);
    const answers = await Promise.all(Array.from({ length: 8 }, (_, tab) => outcome(checkout.checkout(checkoutRequest(user, `tab-${tab}`)))));
    const state = await settledState(user);
    expect(state.accepted).toHaveLength(1);
    expect(state.ordered.get(products[0]!.id)).toBe(2);
    const accepted = answers.filter((a): a is CheckoutAccepted => 'orderId' in a);
    expect(accepted.length).toBeGreaterThan(0);
    expect(new Set(accepted.map((a) => a.orderId))).toEqual(new Set([state.accepted[0]!.order_id]));
    // Each key that got a 202 answers the same again; the others find an empty cart.
    for (let tab = 0; tab < 8; tab++) {
      const again = await outcome(checkout.checkout(checkoutRequest(user, `tab-${tab}`)));
      if ('orderId' in answers[tab]!) expect(again).toEqual(answers[tab]);
      else expect(again).toEqual({ code: 'cart_empty' });
    }
  });

  it('when a line is added while the checkout is in flight, then the order holds what was claimed and the added line stays in the cart', async () => {
    for (let run = 0; run < 5; run++) {
      const user = uniqueUser('race');
      const { carts, checkout } = shopFor(realAdapters());
      await carts.add(user, products[0]!.id, 1, plentyOfStock);
      await Promise.all([checkout.checkout(checkoutRequest(user)), carts.add(user, products[1]!.id, 1, plentyOfStock)]);
      const state = await settledState(user);
      expect(state.accepted).toHaveLength(1);
      for (const product of [products[0]!, products[1]!]) expect((state.ordered.get(product.id) ?? 0) + (state.cart.get(product.id) ?? 0)).toBe(1);
      expect(state.ordered.get(products[0]!.id)).toBe(1);
    }
  });

  it('when a tab read the cart before another tab checked it out, then its claim is refused and it orders nothing twice', async () => {
    const user = uniqueUser('stale-read');
    const real = realAdapters();
    await real.carts.add(user, products[0]!.id, 1, plentyOfStock);
    // The late tab stops right after its read until the other checkout has completed.
    let releaseRead!: () => void;
    const readHeld = new Promise<void>((resolve) => (releaseRead = resolve));
    let readDone!: () => void;
    const readTaken = new Promise<void>((resolve) => (readDone = resolve));
    const lateTab = shopFor({
      claims: {
        ...real.claims,
        readForCheckout: async (userId) => {
          const cart = await real.claims.readForCheckout(userId);
          readDone();
          await readHeld;
          return cart;
        },
      },
      ledger: real.ledger,
    });
    const late = outcome(lateTab.checkout.checkout(checkoutRequest(user)));
    await readTaken;
    const first = await shopFor(real).checkout.checkout(checkoutRequest(user));
    releaseRead();
    const second = await late;
    const state = await settledState(user);
    expect(state.accepted.map((a) => a.order_id)).toEqual([first.orderId]);
    expect(second).toEqual({ code: 'cart_empty' });
  });

  it('when a request is retried with its key after new lines went into the cart, then it answers the first orderId, orders nothing more, and the new lines stay in the cart', async () => {
    const user = uniqueUser('retry-after-add');
    const real = realAdapters();
    const keysLookedUp: string[] = [];
    const { carts, checkout } = shopFor({ ...real, ledger: { ...real.ledger, findByKey: (userId, keyHash) => (keysLookedUp.push(keyHash), real.ledger.findByKey(userId, keyHash)) } });
    await carts.add(user, products[0]!.id, 1, plentyOfStock);
    const first = await checkout.checkout(checkoutRequest(user, 'once'));
    // The accept records a new key: a new checkout spends no statement looking it up.
    expect(keysLookedUp).toEqual([]);
    await carts.add(user, products[1]!.id, 2, plentyOfStock);
    expect(await checkout.checkout(checkoutRequest(user, 'once'))).toEqual(first);
    await expect(checkout.checkout(checkoutRequest(user, 'once', '{"other":true}'))).rejects.toMatchObject({ code: 'idempotency_key_reused', status: 422 });
    const state = await settledState(user);
    expect(state.accepted.map((a) => a.order_id)).toEqual([first.orderId]);
    expect(state.claim).toBeUndefined();
    expect([...state.cart]).toEqual([[products[1]!.id, 2]]);
    // A checkout with a new key orders the new lines.
    const second = await checkout.checkout(checkoutRequest(user, 'next'));
    expect((await settledState(user)).accepted.map((a) => a.order_id).sort()).toEqual([first.orderId, second.orderId].sort());
  });

  it('when a key is reused with another body, then 422 idempotency_key_reused, before and after the first is accepted', async () => {
    const user = uniqueUser('reuse');
    const { carts, checkout } = shopFor(realAdapters());
    await carts.add(user, products[0]!.id, 1, plentyOfStock);
    const [first, second] = await Promise.all([outcome(checkout.checkout(checkoutRequest(user, 'k', '{"a":1}'))), outcome(checkout.checkout(checkoutRequest(user, 'k', '{"a":2}')))]);
    expect([first, second].filter((a) => 'code' in a && a.code === 'idempotency_key_reused')).toHaveLength(1);
    await expect(checkout.checkout(checkoutRequest(user, 'k', '{"a":3}'))).rejects.toMatchObject({ code: 'idempotency_key_reused', status: 422 });
  });
});

describe('the checkout ledger: a new checkout is accepted in one statement, anything else by the transaction', () => {
  const ledger = () => postgresCheckoutLedger(db, relay);
  /** A claim of one line for `user`, as the checkout service makes it. */
  const claimFor = (user: string): CheckoutClaim => {
    const orderId = uuidv7();
    const checkoutId = uuidv7();
    const items = [{ productId: products[0]!.id, name: products[0]!.name, unitPrice: products[0]!.priceCents / 100, quantity: 1 }];
    return { checkoutId, orderId, lines: [{ productId: products[0]!.id, quantity: 1 }], claimedAt: Date.now(), event: { checkoutId, orderId, userId: user, items, total: items[0]!.unitPrice, occurredAt: new Date().toISOString() } };
  };
  const keyOf = (name: string, body = '') => ({ keyHash: `hash-${name}-${uuidv7()}`, fingerprint: `fingerprint-${body}` });
  /** What the ledger holds for a claim: its checkout's state, its CartCheckedOut rows, and the order the key names. */
  async function written(claim: CheckoutClaim, key?: { keyHash: string }) {
    const checkout = await db.query<{ state: string }>('SELECT state FROM checkouts WHERE order_id = $1', [claim.orderId]);
    const events = await db.query("SELECT 1 FROM outbox WHERE type = 'CartCheckedOut' AND payload->>'orderId' = $1", [claim.orderId]);
    const keyRow = key && (await db.query<{ order_id: string }>('SELECT order_id FROM checkout_requests WHERE key_hash = $1', [key.keyHash]));
    return { state: checkout.rows[0]?.state, events: events.rowCount, keyNames: keyRow?.rows[0]?.order_id };
  }

  it('when the checkout and its key are new, then the checkout, the key and one CartCheckedOut are written', async () => {
    const user = uniqueUser('ledger-new');
    const claim = claimFor(user);
    const key = keyOf('new');
    expect(await ledger().accept(user, claim, key, noTrace)).toEqual({ state: 'accepted' });
    expect(await written(claim, key)).toEqual({ state: 'ACCEPTED', events: 1, keyNames: claim.orderId });
    // Accepted again (a retry whose first answer was lost): nothing new.
    expect(await ledger().accept(user, claim, key, noTrace)).toEqual({ state: 'accepted' });
    expect(await written(claim, key)).toEqual({ state: 'ACCEPTED', events: 1, keyNames: claim.orderId });
  });

  it('when the key already names another checkout, then that answer comes back and nothing of this checkout is written', async () => {
    const user = uniqueUser('ledger-taken');
    const first = claimFor(user);
    const key = keyOf('taken');
    await ledger().accept(user, first, key, noTrace);
    const second = claimFor(user);
    expect(await ledger().accept(user, second, key, noTrace)).toEqual({
      state: 'key_conflict',
      recorded: { fingerprint: key.fingerprint, accepted: { checkoutId: first.checkoutId, orderId: first.orderId, status: 'PENDING' } },
    });
    expect(await written(second)).toEqual({ state: undefined, events: 0, keyNames: undefined });
    expect(await written(first, key)).toEqual({ state: 'ACCEPTED', events: 1, keyNames: first.orderId });
  });

  it('when two claims race with one key (20 times), then one is accepted and the other answers key_conflict naming it, with nothing of its own written', async () => {
    for (let run = 0; run < 20; run++) {
      const user = uniqueUser('ledger-race');
      const key = keyOf('race');
      const claims = [claimFor(user), claimFor(user)];
      const outcomes = await Promise.all(claims.map((claim) => ledger().accept(user, claim, key, noTrace)));
      const winner = outcomes.findIndex((outcome) => outcome.state === 'accepted');
      expect(winner, JSON.stringify(outcomes)).not.toBe(-1);
      const [won, lost] = [claims[winner]!, claims[1 - winner]!];
      expect(outcomes[1 - winner]).toEqual({ state: 'key_conflict', recorded: { fingerprint: key.fingerprint, accepted: { checkoutId: won.checkoutId, orderId: won.orderId, status: 'PENDING' } } });
      expect(await written(won, key)).toEqual({ state: 'ACCEPTED', events: 1, keyNames: won.orderId });
      expect(await written(lost)).toEqual({ state: undefined, events: 0, keyNames: undefined });
    }
  });

  it('when one claim is accepted twice at once with its key (a double click joining it, 20 times), then both are accepted with one checkout and one event', async () => {
    for (let run = 0; run < 20; run++) {
      const user = uniqueUser('ledger-double');
      const claim = claimFor(user);
      const key = keyOf('double');
      expect(await Promise.all([ledger().accept(user, claim, key, noTrace), ledger().accept(user, claim, key, noTrace)])).toEqual([{ state: 'accepted' }, { state: 'accepted' }]);
      expect(await written(claim, key)).toEqual({ state: 'ACCEPTED', events: 1, keyNames: claim.orderId });
    }
  });

  it('when the claim was abandoned first, then abandoned, and its key is not recorded', async () => {
    const user = uniqueUser('ledger-abandoned');
    const claim = claimFor(user);
    const key = keyOf('abandoned');
    expect(await ledger().abandon(user, claim)).toBe('abandoned');
    expect(await ledger().accept(user, claim, key, noTrace)).toEqual({ state: 'abandoned' });
    expect(await written(claim, key)).toEqual({ state: 'ABANDONED', events: 0, keyNames: undefined });
    expect(await ledger().findByKey(user, key.keyHash)).toBeUndefined();
  });

  it('when a keyless request accepted the claim first, then a keyed one joining it records its key for that checkout, with no second event', async () => {
    const user = uniqueUser('ledger-joined');
    const claim = claimFor(user);
    expect(await ledger().accept(user, claim, undefined, noTrace)).toEqual({ state: 'accepted' });
    const key = keyOf('joined');
    expect(await ledger().accept(user, claim, key, noTrace)).toEqual({ state: 'accepted' });
    expect(await written(claim, key)).toEqual({ state: 'ACCEPTED', events: 1, keyNames: claim.orderId });
  });

  it('when six new checkouts (four with keys) arrive at once, then the four that waited for the first two are accepted by one statement, each with its key and one CartCheckedOut', async () => {
    const counting = new pg.Pool({ connectionString: postgresUrl, max: 4 });
    let acceptStatements = 0;
    onStatements(counting, (text) => {
      if (text.includes('$3::text[], $4::jsonb[]')) acceptStatements++;
    });
    try {
      const batched = postgresCheckoutLedger(counting, relay);
      const user = uniqueUser('ledger-batch');
      const claims = Array.from({ length: 6 }, () => claimFor(user));
      const keys = claims.map((_, i) => (i % 3 === 2 ? undefined : keyOf(`batch-${i}`)));
      expect(await Promise.all(claims.map((claim, i) => batched.accept(user, claim, keys[i], noTrace)))).toEqual(claims.map(() => ({ state: 'accepted' })));
      expect(acceptStatements).toBe(3);
      for (const [i, claim] of claims.entries()) expect(await written(claim, keys[i])).toEqual({ state: 'ACCEPTED', events: 1, keyNames: keys[i] && claim.orderId });
    } finally {
      await counting.end();
    }
  });

  it('when an abandon commits after the accepting statement read the checkouts, then nothing of the accept is written, not even its key, and it answers abandoned', async () => {
    const user = uniqueUser('ledger-undo');
    const claim = claimFor(user);
    const key = keyOf('undo');
    const abandoning = await db.connect();
    try {
      await abandoning.query('BEGIN');
      await abandoning.query("INSERT INTO checkouts (order_id, checkout_id, user_id, state) VALUES ($1, $2, $3, 'ABANDONED')", [claim.orderId, claim.checkoutId, user]);
      const accepting = ledger().accept(user, claim, key, noTrace);
      // The accept's statement waits on the uncommitted checkout.
      for (let waited = 0; ; waited += 20) {
        const { rowCount } = await db.query("SELECT 1 FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE '%$3::text[], $4::jsonb[]%'");
        if (rowCount) break;
        if (waited > 5_000) throw new Error('the accept never waited on the abandon');
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      await abandoning.query('COMMIT');
      expect(await accepting).toEqual({ state: 'abandoned' });
    } finally {
      abandoning.release();
    }
    expect(await written(claim, key)).toEqual({ state: 'ABANDONED', events: 0, keyNames: undefined });
  });

  it('when random accepts of new, accepted and abandoned claims with free, taken and expired keys arrive at once (40 runs), then the answers and the ledger are those of accepting them one by one in some order', async () => {
    type OrderKind = 'new' | 'ACCEPTED' | 'ABANDONED';
    type KeyKind = 'free' | 'taken' | 'expired';
    interface Attempt {
      order: number;
      key: number | undefined;
      body: number;
    }
    interface Ledger {
      checkouts: Map<string, 'ACCEPTED' | 'ABANDONED'>;
      keys: Map<string, { order: string; body: string; live: boolean }>;
    }
    /** The ledger's rules, one accept at a time (orders and keys by name; 'x' is the order the taken keys name). */
    const acceptOne = (state: Ledger, order: string, key: string | undefined, body: string): string => {
      const checkout = state.checkouts.get(order);
      if (checkout === 'ABANDONED') return 'abandoned';
      const recorded = key === undefined ? undefined : state.keys.get(key);
      if (key !== undefined && recorded?.live && (recorded.order !== order || recorded.body !== body || !checkout)) return `key_conflict ${recorded.order} ${recorded.body}`;
      state.checkouts.set(order, 'ACCEPTED');
      if (key !== undefined && !recorded?.live) state.keys.set(key, { order, body, live: true });
      return 'accepted';
    };
    const permutations = <T,>(items: T[]): T[][] => (items.length <= 1 ? [items] : items.flatMap((item, i) => permutations([...items.slice(0, i), ...items.slice(i + 1)]).map((rest) => [item, ...rest])));
    const shared = ledger();
    const attempt = fc.record({ order: fc.nat(3), key: fc.option(fc.nat(2), { nil: undefined }), body: fc.nat(1) });
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.constantFrom<OrderKind>('new', 'ACCEPTED', 'ABANDONED'), { minLength: 4, maxLength: 4 }),
        fc.array(fc.constantFrom<KeyKind>('free', 'taken', 'expired'), { minLength: 3, maxLength: 3 }),
        fc.array(attempt, { minLength: 2, maxLength: 6 }),
        async (orderKinds, keyKinds, attempts: Attempt[]) => {
          const user = uniqueUser('ledger-model');
          const claims = orderKinds.map(() => claimFor(user));
          const taker = claimFor(user);
          const keyHashes = keyKinds.map((_, i) => `hash-model-${i}-${uuidv7()}`);
          const start: Ledger = { checkouts: new Map(), keys: new Map() };
          await ledger().accept(user, taker, undefined, noTrace);
          start.checkouts.set('x', 'ACCEPTED');
          for (const [i, kind] of orderKinds.entries()) {
            if (kind === 'ACCEPTED') await ledger().accept(user, claims[i]!, undefined, noTrace);
            if (kind === 'ABANDONED') await ledger().abandon(user, claims[i]!);
            if (kind !== 'new') start.checkouts.set(`o${i}`, kind);
          }
          for (const [i, kind] of keyKinds.entries()) {
            if (kind === 'free') continue;
            await ledger().accept(user, taker, { keyHash: keyHashes[i]!, fingerprint: 'fingerprint-x' }, noTrace);
            if (kind === 'expired') await db.query("UPDATE checkout_requests SET created_at = now() - interval '25 hours' WHERE key_hash = $1", [keyHashes[i]]);
            start.keys.set(`k${i}`, { order: 'x', body: 'x', live: kind === 'taken' });
          }

          const outcomes = await Promise.all(
            attempts.map((a) => shared.accept(user, claims[a.order]!, a.key === undefined ? undefined : { keyHash: keyHashes[a.key]!, fingerprint: `fingerprint-${a.body}` }, noTrace)),
          );
          const orderName = (orderId: string) => (orderId === taker.orderId ? 'x' : `o${claims.findIndex((claim) => claim.orderId === orderId)}`);
          const answers = outcomes.map((outcome) => (outcome.state === 'key_conflict' ? `key_conflict ${orderName(outcome.recorded.accepted.orderId)} ${outcome.recorded.fingerprint.replace('fingerprint-', '')}` : outcome.state));
          const orderIds = claims.map((claim) => claim.orderId);
          const checkouts = await db.query<{ order_id: string; state: string; events: number }>(
            "SELECT c.order_id, c.state, (SELECT count(*)::int FROM outbox WHERE type = 'CartCheckedOut' AND payload->>'orderId' = c.order_id::text) AS events FROM checkouts c WHERE c.order_id = ANY($1::uuid[])",
            [orderIds],
          );
          const keyRows = await db.query<{ key_hash: string; order_id: string; fingerprint: string; live: boolean }>(
            "SELECT key_hash, order_id, fingerprint, created_at > now() - interval '24 hours' AS live FROM checkout_requests WHERE key_hash = ANY($1::text[])",
            [keyHashes],
          );
          const observed = {
            answers,
            checkouts: Object.fromEntries(checkouts.rows.map((row) => [orderName(row.order_id), `${row.state} ${row.state === 'ACCEPTED' ? row.events : 0}`]).sort()),
            keys: Object.fromEntries(keyRows.rows.map((row) => [`k${keyHashes.indexOf(row.key_hash)}`, `${orderName(row.order_id)} ${row.fingerprint.replace('fingerprint-', '')} ${row.live}`]).sort()),
          };
          const orders = attempts.map((_, i) => i);
          const linearizations = permutations(orders).map((order) => {
            const state: Ledger = { checkouts: new Map(start.checkouts), keys: new Map(start.keys) };
            const modelAnswers: string[] = [];
            for (const i of order) {
              const a = attempts[i]!;
              modelAnswers[i] = acceptOne(state, `o${a.order}`, a.key === undefined ? undefined : `k${a.key}`, String(a.body));
            }
            state.checkouts.delete('x');
            return {
              answers: modelAnswers,
              checkouts: Object.fromEntries([...state.checkouts].map(([name, kind]) => [name, `${kind} ${kind === 'ACCEPTED' ? 1 : 0}`]).sort()),
              keys: Object.fromEntries([...state.keys].map(([name, key]) => [name, `${key.order} ${key.body} ${key.live}`]).sort()),
            };
          });
          expect(linearizations.some((model) => JSON.stringify(model) === JSON.stringify(observed)), JSON.stringify({ observed, attempts, orderKinds, keyKinds })).toBe(true);
        },
      ),
      { numRuns: 40 },
    );
  });
});

/** Steps of one checkout where a crash can fall; `before` means the call never reaches the store. */
const crashPoints = ['before claim', 'after claim', 'before accept', 'after accept', 'before complete', 'after complete'] as const;
type CrashPoint = (typeof crashPoints)[number];

/** Adapters whose request stops for good at `point`, as a killed host would: nothing after it runs; `halted` resolves when it stops. */
function crashingAt(point: CrashPoint): Adapters & { halted: Promise<void> } {
  const real = realAdapters();
  let stopped!: () => void;
  const halted = new Promise<void>((resolve) => (stopped = resolve));
  const halt = () => {
    stopped();
    return new Promise<never>(() => {});
  };
  const step = <A extends unknown[], R>(name: 'claim' | 'accept' | 'complete', call: (...args: A) => Promise<R>) =>
    async (...args: A): Promise<R> => {
      if (point === `before ${name}`) return halt();
      const result = await call(...args);
      return point === `after ${name}` ? halt() : result;
    };
  return {
    claims: { ...real.claims, claim: step('claim', real.claims.claim), complete: step('complete', real.claims.complete) },
    ledger: { ...real.ledger, accept: step('accept', real.ledger.accept) },
    halted,
  };
}

/** Fills the user's cart with two lines and starts a checkout that the host dies in at `point`; resolves once it has. */
async function checkoutCutOff(user: string, point: CrashPoint): Promise<void> {
  const setup = shopFor(realAdapters());
  await setup.carts.add(user, products[0]!.id, 2, plentyOfStock);
  await setup.carts.add(user, products[1]!.id, 1, plentyOfStock);
  const crashing = crashingAt(point);
  void shopFor(crashing).checkout.checkout(checkoutRequest(user, 'first'));
  await crashing.halted;
}

describe('a crash between any two steps of checkout', () => {
  const retries = [
    { name: 'the same key', key: (first: string) => first },
    { name: 'a new key', key: () => `retry-${uuidv7()}` },
    { name: 'no key', key: () => undefined },
  ];

  for (const point of crashPoints) {
    for (const retry of retries) {
      for (const later of [false, true]) {
        it(`when the host dies ${point} and the client retries with ${retry.name}${later ? ' after the claim went stale' : ''}, then one order holds the cart once`, async () => {
          const user = uniqueUser('crash');
          await checkoutCutOff(user, point);

          const clock = later ? () => Date.now() + staleClaimMs + 1 : Date.now;
          const retried = await outcome(shopFor(realAdapters(), clock).checkout.checkout(checkoutRequest(user, retry.key('first'))));
          // A cart read settles what a crash left, as the next visit to the cart does.
          await shopFor(realAdapters(), () => Date.now() + staleClaimMs + 1).cart.view(user);

          const state = await settledState(user);
          expect(state.claim).toBeUndefined();
          expect(state.accepted.length).toBeLessThanOrEqual(1);
          for (const [i, product] of [products[0]!, products[1]!].entries()) {
            expect((state.ordered.get(product.id) ?? 0) + (state.cart.get(product.id) ?? 0)).toBe(i === 0 ? 2 : 1);
          }
          if ('orderId' in retried) expect(state.accepted.map((a) => a.order_id)).toEqual([retried.orderId]);
          else expect(state.accepted).toHaveLength(1); // an empty cart: the first checkout went through and took the lines
        });
      }
    }
  }
});

describe('a crash after the checkout was accepted, and its order placed before anyone came back', () => {
  const comebacks = [
    { name: 'a retry with the same key', key: 'first' as string | undefined },
    { name: 'a retry with a new key', key: 'retry' as string | undefined },
    { name: 'a retry with no key', key: undefined },
    { name: 'a cart read', key: null },
  ];
  for (const point of ['after accept', 'before complete'] as const) {
    for (const comeback of comebacks) {
      it(`when the host dies ${point}, placeOrder inserts the order, and ${comeback.name} comes after the claim went stale, then the claim is completed: the ordered lines leave the cart and the first orderId is the only one`, async () => {
        const user = uniqueUser('placed');
        await checkoutCutOff(user, point);
        const [accepted] = (await settledState(user)).accepted;
        expect(await placeOrderFromCheckout(postgresOrderStore(db, relay), accepted!.event, noTrace)).toBe('created');

        const later = shopFor(realAdapters(), () => Date.now() + staleClaimMs + 1);
        if (comeback.key === null) await later.cart.view(user);
        else expect(await later.checkout.checkout(checkoutRequest(user, comeback.key))).toMatchObject({ orderId: accepted!.order_id });
        await later.cart.view(user);

        const state = await settledState(user);
        expect(state.claim).toBeUndefined();
        expect(state.accepted.map((a) => a.order_id)).toEqual([accepted!.order_id]);
        expect(state.cart.size).toBe(0);
        // The next checkout finds nothing left to order.
        await expect(later.checkout.checkout(checkoutRequest(user))).rejects.toMatchObject({ code: 'cart_empty' });
      });
    }
  }
});
