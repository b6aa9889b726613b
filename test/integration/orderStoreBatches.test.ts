import fc from 'fast-check';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { postgresOrderStore } from '../../src/adapters/postgres/orderStore.js';
import { OutboxRelay } from '../../src/adapters/postgres/outbox.js';
import type { CartCheckedOut, EventPublisher } from '../../src/domain/events.js';
import { uuidv7 } from '../../src/domain/ids.js';
import { placeOrderFromCheckout, type CheckoutOutcome, type OrderStatus, type OrderStore, type PaymentResultMove, type PaymentSettlement, type PaymentStartOutcome } from '../../src/domain/orders.js';
import { postgresUrl } from '../support/pipeline.js';
import { onStatements } from '../support/statements.js';

/*
 * Batched statements of the real Postgres order store. Placements that arrive while one is in flight
 * share one place_orders statement, payment starts one INSERT, settlements one UPDATE and payment
 * results on orders one UPDATE: stock must still be decided one order after another in arrival order,
 * an order must still get one payment and a payment one result, a redelivery must write nothing, a
 * cancel request must still stop a result, and an order Postgres refuses must not take its batch down
 * with it.
 */

const noTrace = {};
const publisher: EventPublisher = { publish: async () => undefined, check: async () => undefined };

let db: pg.Pool;
let relay: OutboxRelay;
let store: OrderStore;
/** Statements sent that call place_orders, insert payments, settle payments and move results onto orders, counted on every client the pool hands out. */
let placementStatements = 0;
let paymentInserts = 0;
let settlementStatements = 0;
let resultMoveStatements = 0;
const productIds: string[] = [];
const orderIds: string[] = [];

beforeAll(async () => {
  db = new pg.Pool({ connectionString: postgresUrl, max: 10 });
  onStatements(db, (text) => {
    if (text.includes('place_orders')) placementStatements++;
    if (text.includes('INSERT INTO payments')) paymentInserts++;
    if (text.includes('UPDATE payments p SET status = f.status')) settlementStatements++;
    if (text.includes('UPDATE orders o SET status = f.status')) resultMoveStatements++;
  });
  relay = new OutboxRelay(db, publisher);
  store = postgresOrderStore(db, relay);
});
afterAll(async () => {
  await relay?.flush();
  if (db) {
    await db.query("DELETE FROM outbox WHERE payload->>'orderId' = ANY($1::text[])", [orderIds]);
    await db.query('DELETE FROM payments WHERE order_id = ANY($1::uuid[])', [orderIds]);
    await db.query('DELETE FROM orders WHERE id = ANY($1::uuid[])', [orderIds]);
    await db.query('DELETE FROM products WHERE id = ANY($1::uuid[])', [productIds]);
  }
  await db?.end();
});

async function product(name: string, stock: number): Promise<string> {
  const id = uuidv7();
  productIds.push(id);
  await db.query('INSERT INTO products (id, name, price, stock) VALUES ($1, $2, 2.5, $3)', [id, name, stock]);
  return id;
}

function checkout(lines: { productId: string; name: string; quantity: number }[]): CartCheckedOut {
  const orderId = uuidv7();
  orderIds.push(orderId);
  const items = lines.map((line) => ({ ...line, unitPrice: 2.5 }));
  return {
    checkoutId: uuidv7(),
    orderId,
    userId: `placement-${orderId}`,
    items,
    total: items.reduce((sum, line) => sum + line.unitPrice * line.quantity, 0),
    occurredAt: new Date().toISOString(),
  };
}

const stockOf = async (id: string) => (await db.query<{ stock: number }>('SELECT stock FROM products WHERE id = $1', [id])).rows[0]!.stock;
const orderOf = async (id: string) =>
  (
    await db.query<{ status: string; reason: string | null; lines: number }>(
      'SELECT o.status, o.reason, (SELECT count(*)::int FROM order_items i WHERE i.order_id = o.id) AS lines FROM orders o WHERE o.id = $1',
      [id],
    )
  ).rows[0];

/** Places the checkouts at once (in this order): the first runs alone and the others wait for it, so they share the lane's next batch. */
const placeAtOnce = (checkouts: CartCheckedOut[]) => Promise.all(checkouts.map((event) => placeOrderFromCheckout(store, event, noTrace)));

describe('placing orders in batches', () => {
  it('when ten checkouts of a product with three in stock arrive at once, then the first three are created, the other seven rejected saying why, in one statement for the batch', async () => {
    const scarce = await product('Scarce tea', 3);
    const checkouts = Array.from({ length: 10 }, () => checkout([{ productId: scarce, name: 'Scarce tea', quantity: 1 }]));
    const before = placementStatements;
    const outcomes = await placeAtOnce(checkouts);
    expect(outcomes).toEqual([...Array(3).fill('created'), ...Array(7).fill('rejected')]);
    // The first alone, the nine that waited for it together.
    expect(placementStatements - before).toBe(2);
    expect(await stockOf(scarce)).toBe(0);
    expect(await orderOf(checkouts[9]!.orderId)).toEqual({ status: 'REJECTED', reason: 'not enough stock for Scarce tea: 1 requested, 0 available', lines: 1 });
  });

  it('when one checkout is delivered three times at once, then one order is created, the others are duplicates, and its stock is taken once', async () => {
    const tea = await product('Redelivered tea', 10);
    const event = checkout([{ productId: tea, name: 'Redelivered tea', quantity: 4 }]);
    const outcomes = await placeAtOnce([event, event, event]);
    expect(outcomes.sort()).toEqual(['created', 'duplicate', 'duplicate']);
    expect(await stockOf(tea)).toBe(6);
    expect(await orderOf(event.orderId)).toMatchObject({ status: 'PENDING', lines: 1 });
    const checkoutRows = await db.query('SELECT 1 FROM orders WHERE checkout_id = $1', [event.checkoutId]);
    expect(checkoutRows.rowCount).toBe(1);
  });

  it('when an order of a batch names a product that no longer exists, then it is rejected naming it and the others of the batch are placed', async () => {
    const tea = await product('Kept tea', 10);
    const gone = uuidv7();
    const [first, missing, last] = [
      checkout([{ productId: tea, name: 'Kept tea', quantity: 1 }]),
      checkout([{ productId: tea, name: 'Kept tea', quantity: 1 }, { productId: gone, name: 'Gone tea', quantity: 1 }]),
      checkout([{ productId: tea, name: 'Kept tea', quantity: 2 }]),
    ];
    expect(await placeAtOnce([first!, missing!, last!])).toEqual(['created', 'rejected', 'created']);
    expect(await orderOf(missing!.orderId)).toMatchObject({ status: 'REJECTED', reason: `product ${gone} (Gone tea) no longer exists` });
    expect(await stockOf(tea)).toBe(7);
  });

  it('when Postgres refuses one order of a batch (a quantity past the limit), then that placement fails alone and the others of its batch are placed once', async () => {
    const tea = await product('Refused tea', 50);
    const [first, second, refused, fourth] = [1, 2, 100, 3].map((quantity) => checkout([{ productId: tea, name: 'Refused tea', quantity }]));
    const outcomes = await Promise.allSettled([first!, second!, refused!, fourth!].map((event) => placeOrderFromCheckout(store, event, noTrace)));
    expect(outcomes.map((outcome) => outcome.status)).toEqual(['fulfilled', 'fulfilled', 'rejected', 'fulfilled']);
    expect(await orderOf(refused!.orderId)).toBeUndefined();
    expect(await stockOf(tea)).toBe(50 - 1 - 2 - 3);
  });

  it('when random checkouts of two scarce products arrive at once (40 runs), then each outcome and the stock are what placing them one by one in arrival order gives', async () => {
    const line = fc.record({ product: fc.constantFrom(0, 1), quantity: fc.integer({ min: 1, max: 4 }) });
    const order = fc.uniqueArray(line, { minLength: 1, maxLength: 2, selector: (l) => l.product });
    await fc.assert(
      fc.asyncProperty(fc.array(order, { minLength: 1, maxLength: 12 }), fc.tuple(fc.integer({ min: 0, max: 8 }), fc.integer({ min: 0, max: 8 })), async (orders, stocks) => {
        const ids = [await product('Random tea', stocks[0]), await product('Random coffee', stocks[1])];
        const checkouts = orders.map((lines) => checkout(lines.map((l) => ({ productId: ids[l.product]!, name: `Random ${l.product}`, quantity: l.quantity }))));
        const left = [...stocks];
        const expected: CheckoutOutcome[] = orders.map((lines) => {
          if (!lines.every((l) => left[l.product]! >= l.quantity)) return 'rejected';
          for (const l of lines) left[l.product]! -= l.quantity;
          return 'created';
        });
        expect(await placeAtOnce(checkouts)).toEqual(expected);
        expect([await stockOf(ids[0]!), await stockOf(ids[1]!)]).toEqual(left);
      }),
      { numRuns: 40 },
    );
  });
});

/** An order in `status` written as it is, without a checkout or stock (what a payment's start reads is its status). */
async function orderIn(status: OrderStatus): Promise<string> {
  const id = uuidv7();
  orderIds.push(id);
  await db.query("INSERT INTO orders (id, checkout_id, user_id, status, total, checked_out_at, cancel_reason) VALUES ($1, $2, $3, $4, 10, now(), CASE WHEN $4 = 'CANCELLED' THEN 'customer' END)", [
    id,
    uuidv7(),
    `payment-start-${id}`,
    status,
  ]);
  return id;
}

/** Starts the payments at once (in this order), each by an attempt of its own; the first runs alone and the others share the lane's next batch. */
const startAtOnce = (orders: string[]) =>
  Promise.all(
    orders.map((orderId) => {
      const id = uuidv7();
      return store.startPayment({ id, orderId, amountCents: 1_000, leaseMs: 60_000 }, async (started) => ({ id, started }));
    }),
  );

const paymentsOf = async (orderId: string) =>
  (await db.query<{ id: string; status: string; leased: boolean }>('SELECT id, status, lease_holder = id AND lease_expires_at > clock_timestamp() AS leased FROM payments WHERE order_id = $1', [orderId])).rows;

describe('starting payments in batches', () => {
  it('when six orders start their payments at once, then each gets one PENDING payment leased to its attempt, the five that waited in one statement', async () => {
    const orders = await Promise.all(Array.from({ length: 6 }, () => orderIn('PENDING')));
    const before = paymentInserts;
    const starts = await startAtOnce(orders);
    expect(starts.map((start) => start.started)).toEqual(Array(6).fill('started'));
    expect(paymentInserts - before).toBe(2);
    for (const [i, orderId] of orders.entries()) expect(await paymentsOf(orderId)).toEqual([{ id: starts[i]!.id, status: 'PENDING', leased: true }]);
  });

  it('when three attempts start the payment of one order at once, then the first starts it and the others find it', async () => {
    const orderId = await orderIn('PENDING');
    const starts = await startAtOnce([orderId, orderId, orderId]);
    expect(starts.map((start) => start.started)).toEqual(['started', 'exists', 'exists']);
    expect(await paymentsOf(orderId)).toEqual([{ id: starts[0]!.id, status: 'PENDING', leased: true }]);
  });

  it('when random attempts start payments of orders in any state at once (40 runs), then each answer is what starting them one by one in arrival order gives, and no order has two payments', async () => {
    const kinds = ['PENDING', 'CANCELLED', 'PAID', 'missing'] as const;
    await fc.assert(
      fc.asyncProperty(fc.array(fc.constantFrom(...kinds), { minLength: 1, maxLength: 4 }), fc.array(fc.nat(), { minLength: 1, maxLength: 12 }), async (orderKinds, picks) => {
        const orders = await Promise.all(orderKinds.map(async (kind) => (kind === 'missing' ? uuidv7() : orderIn(kind))));
        const attempts = picks.map((pick) => pick % orders.length);
        const started = new Set<number>();
        const expected: PaymentStartOutcome[] = attempts.map((i) => {
          if (orderKinds[i] !== 'PENDING') return 'order_not_pending';
          if (started.has(i)) return 'exists';
          started.add(i);
          return 'started';
        });
        const starts = await startAtOnce(attempts.map((i) => orders[i]!));
        expect(starts.map((start) => start.started)).toEqual(expected);
        for (const [i, orderId] of orders.entries()) expect((await paymentsOf(orderId)).length).toBe(started.has(i) ? 1 : 0);
      }),
      { numRuns: 40 },
    );
  });
});

/** A payment in `status` of a PENDING order of its own, written as it is. */
async function paymentIn(status: 'PENDING' | 'SUCCEEDED' | 'FAILED'): Promise<string> {
  const orderId = await orderIn('PENDING');
  const id = uuidv7();
  await db.query("INSERT INTO payments (id, order_id, status, amount, lease_holder, lease_expires_at) VALUES ($1, $2, $3, 10, $1, clock_timestamp() + interval '1 minute')", [id, orderId, status]);
  return id;
}

type Settlement = Pick<PaymentSettlement, 'paymentId' | 'status'>;

/** Settles the payments at once (in this order); the first runs alone and the others share the lane's next batch. */
const settleAtOnce = (settlements: Settlement[]) =>
  Promise.all(settlements.map((settlement, i) => store.settlePayment({ ...settlement, reason: null, providerReference: `ref-${i}` }, async (settled) => settled)));

const paymentOf = async (id: string) =>
  (await db.query<{ status: string; provider_reference: string | null }>('SELECT status, provider_reference FROM payments WHERE id = $1', [id])).rows[0];

describe('settling payments in batches', () => {
  it('when six PENDING payments are settled at once, then each is settled, the five that waited in one statement', async () => {
    const payments = await Promise.all(Array.from({ length: 6 }, () => paymentIn('PENDING')));
    const before = settlementStatements;
    expect(await settleAtOnce(payments.map((paymentId) => ({ paymentId, status: 'SUCCEEDED' })))).toEqual(Array(6).fill(true));
    expect(settlementStatements - before).toBe(2);
    for (const [i, id] of payments.entries()) expect(await paymentOf(id)).toEqual({ status: 'SUCCEEDED', provider_reference: `ref-${i}` });
  });

  it('when random settlements of payments in any state arrive at once (40 runs), then each answer and each payment is what settling them one by one in arrival order gives', async () => {
    const kinds = ['PENDING', 'SUCCEEDED', 'FAILED', 'missing'] as const;
    const attempt = fc.record({ payment: fc.nat(), status: fc.constantFrom<Settlement['status']>('SUCCEEDED', 'FAILED') });
    await fc.assert(
      fc.asyncProperty(fc.array(fc.constantFrom(...kinds), { minLength: 1, maxLength: 4 }), fc.array(attempt, { minLength: 1, maxLength: 12 }), async (paymentKinds, attempts) => {
        const payments = await Promise.all(paymentKinds.map(async (kind) => (kind === 'missing' ? uuidv7() : paymentIn(kind))));
        const settlements = attempts.map((a) => ({ paymentId: payments[a.payment % payments.length]!, status: a.status }));
        const model = new Map(payments.map((id, i) => [id, { status: paymentKinds[i]!, reference: null as string | null }]));
        const expected = settlements.map((settlement, i) => {
          const payment = model.get(settlement.paymentId)!;
          if (payment.status !== 'PENDING') return false;
          Object.assign(payment, { status: settlement.status, reference: `ref-${i}` });
          return true;
        });
        expect(await settleAtOnce(settlements)).toEqual(expected);
        for (const [id, payment] of model) {
          if (payment.status !== 'missing') expect(await paymentOf(id)).toEqual({ status: payment.status, provider_reference: payment.reference });
        }
      }),
      { numRuns: 40 },
    );
  });
});

/** Moves the payment results onto their orders at once (in this order); the first runs alone and the others share the lane's next batch. */
const moveAtOnce = (moves: PaymentResultMove[]) => Promise.all(moves.map((move) => store.moveOnPaymentResult(move, async (moved) => moved)));

const statusOf = async (orderId: string) => (await db.query<{ status: string; reason: string | null }>('SELECT status, reason FROM orders WHERE id = $1', [orderId])).rows[0];

describe('moving payment results onto orders in batches', () => {
  it('when five PENDING orders get their results at once, then each moves with what its event needs, the four that waited in one statement', async () => {
    const orders = await Promise.all(Array.from({ length: 5 }, () => orderIn('PENDING')));
    const before = resultMoveStatements;
    const moved = await moveAtOnce(orders.map((orderId, i) => (i === 2 ? { orderId, to: 'PAYMENT_FAILED', change: { reason: 'declined' } } : { orderId, to: 'PAID', change: {} })));
    expect(resultMoveStatements - before).toBe(2);
    for (const [i, orderId] of orders.entries()) {
      expect(moved[i]).toEqual({ userId: `payment-start-${orderId}`, totalCents: 1_000, checkedOutAt: expect.any(Date) });
      expect(await statusOf(orderId)).toEqual(i === 2 ? { status: 'PAYMENT_FAILED', reason: 'declined' } : { status: 'PAID', reason: null });
    }
  });

  it('when random results for orders in any state arrive at once (40 runs), then each answer and each order is what moving them one by one in arrival order gives, and a cancel request stops the move', async () => {
    const kinds = ['PENDING', 'cancel requested', 'PAID', 'CANCELLED', 'missing'] as const;
    const attempt = fc.record({ order: fc.nat(), to: fc.constantFrom<PaymentResultMove['to']>('PAID', 'PAYMENT_FAILED') });
    await fc.assert(
      fc.asyncProperty(fc.array(fc.constantFrom(...kinds), { minLength: 1, maxLength: 4 }), fc.array(attempt, { minLength: 1, maxLength: 12 }), async (orderKinds, attempts) => {
        const orders = await Promise.all(
          orderKinds.map(async (kind) => {
            if (kind === 'missing') return uuidv7();
            const id = await orderIn(kind === 'cancel requested' ? 'PENDING' : kind);
            if (kind === 'cancel requested') await db.query('UPDATE orders SET cancel_requested_at = now() WHERE id = $1', [id]);
            return id;
          }),
        );
        const moves = attempts.map((a, i): PaymentResultMove => ({ orderId: orders[a.order % orders.length]!, to: a.to, change: a.to === 'PAYMENT_FAILED' ? { reason: `declined ${i}` } : {} }));
        const model = new Map(orders.map((id, i) => [id, { kind: orderKinds[i]!, status: orderKinds[i] === 'cancel requested' ? 'PENDING' : orderKinds[i]!, reason: null as string | null }]));
        const expected = moves.map((move) => {
          const order = model.get(move.orderId)!;
          if (order.kind !== 'PENDING' || order.status !== 'PENDING') return false;
          Object.assign(order, { status: move.to, reason: move.change.reason ?? null });
          return true;
        });
        expect((await moveAtOnce(moves)).map((moved) => moved !== undefined)).toEqual(expected);
        for (const [id, order] of model) if (order.status !== 'missing') expect(await statusOf(id)).toEqual({ status: order.status, reason: order.reason });
      }),
      { numRuns: 40 },
    );
  });
});
