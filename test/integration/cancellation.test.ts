import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { simulatedPaymentProvider } from '../../src/adapters/payments/simulatedProvider.js';
import { postgresOrderStore } from '../../src/adapters/postgres/orderStore.js';
import { OutboxRelay } from '../../src/adapters/postgres/outbox.js';
import { postgresStrandedQueries } from '../../src/adapters/postgres/strandedQueries.js';
import type { EventPublisher } from '../../src/domain/events.js';
import { uuidv7 } from '../../src/domain/ids.js';
import { centsFromNumber } from '../../src/domain/money.js';
import { applyPaymentResult, cancelOrder, orderQueries, placeOrderFromCheckout, type OrderStore } from '../../src/domain/orders.js';
import { finishRefund, PaymentLeaseHeld, processPayment, type PaymentProvider } from '../../src/domain/payments.js';
import { isTransient } from '../../src/app/consumeEvent.js';
import { resolveStrandedOrders, type StrandedQueries } from '../../src/domain/recovery.js';
import { postgresUrl } from '../support/pipeline.js';

/*
 * Cancellation with a refund exactly once, on the real Postgres store and the simulated provider's
 * ledger (which counts every charge and refund call): repeated cancels at once, a cancel racing the
 * late payment result, a cancel while the payment is in flight, and a refund interrupted by a crash
 * before or after the provider recorded it, finished by the resolver.
 */

const noTrace = {};
const policy = { providerTimeoutMs: 300, leaseMs: 1_000 };
const connectionLost = () => Object.assign(new Error('Connection terminated unexpectedly'), { code: 'ECONNRESET' });

let db: pg.Pool;
let relay: OutboxRelay;
let store: OrderStore;
let provider: PaymentProvider;
const publisher: EventPublisher = { publish: async () => undefined, check: async () => undefined };
const orderIds: string[] = [];
let productId: string;
const stockAtStart = 1_000;

beforeAll(async () => {
  db = new pg.Pool({ connectionString: postgresUrl, max: 12 });
  relay = new OutboxRelay(db, publisher);
  store = postgresOrderStore(db, relay);
  provider = simulatedPaymentProvider(db, { declineAboveCents: centsFromNumber(100)!, latencyMs: 0 });
  productId = uuidv7();
  await db.query("INSERT INTO products (id, name, price, stock) VALUES ($1, 'Cancel test tea', 12.5, $2)", [productId, stockAtStart]);
});
afterAll(async () => {
  await relay?.flush();
  if (db) {
    await db.query("DELETE FROM outbox WHERE payload->>'orderId' = ANY($1::text[])", [orderIds]);
    await db.query('DELETE FROM simulated_provider_charges WHERE order_id = ANY($1::uuid[]) AND kind = $2', [orderIds, 'refund']);
    await db.query('DELETE FROM simulated_provider_charges WHERE order_id = ANY($1::uuid[])', [orderIds]);
    await db.query('DELETE FROM payments WHERE order_id = ANY($1::uuid[])', [orderIds]);
    await db.query('DELETE FROM orders WHERE id = ANY($1::uuid[])', [orderIds]);
    await db.query('DELETE FROM checkouts WHERE order_id = ANY($1::uuid[])', [orderIds]);
    await db.query('DELETE FROM products WHERE id = $1', [productId]);
  }
  await db?.end();
});

/** A PENDING order of 2 units (stock reserved), its OrderCreated, and its owner. */
async function pendingOrder(total = 25) {
  const orderId = uuidv7();
  orderIds.push(orderId);
  const userId = `cancel-${orderId}`;
  const checkout = { checkoutId: uuidv7(), orderId, userId, items: [{ productId, name: 'Cancel test tea', unitPrice: total / 2, quantity: 2 }], total, occurredAt: new Date().toISOString() };
  expect(await placeOrderFromCheckout(store, checkout, noTrace)).toBe('created');
  return { orderId, userId, created: { orderId, userId, total, occurredAt: checkout.occurredAt } };
}

/** A checkout accepted (202) whose CartCheckedOut has not been placed yet: no order, no stock reserved. */
async function acceptedCheckout() {
  const orderId = uuidv7();
  orderIds.push(orderId);
  const userId = `cancel-${orderId}`;
  const checkout = { checkoutId: uuidv7(), orderId, userId, items: [{ productId, name: 'Cancel test tea', unitPrice: 12.5, quantity: 2 }], total: 25, occurredAt: new Date().toISOString() };
  await db.query("INSERT INTO checkouts (order_id, checkout_id, user_id, state, event) VALUES ($1, $2, $3, 'ACCEPTED', $4)", [orderId, checkout.checkoutId, userId, JSON.stringify(checkout)]);
  return { orderId, userId, checkout };
}

/** A PAID order: charged once, its PaymentSucceeded applied. */
async function paidOrder() {
  const order = await pendingOrder();
  const paymentId = uuidv7();
  expect(await processPayment(store, provider, order.created, noTrace, paymentId, policy)).toBe('succeeded');
  expect((await applyPaymentResult(store, 'PaymentSucceeded', { orderId: order.orderId, paymentId, occurredAt: new Date().toISOString() }))?.status).toBe('PAID');
  return { ...order, paymentId };
}

/** What the cancel route does: cancel, then finish the refund it started. */
async function cancelAsTheRoute(orderId: string, userId: string, via: PaymentProvider = provider) {
  const outcome = await cancelOrder(store, orderId, userId);
  if (outcome.refundOf) await finishRefund(store, via, outcome.refundOf, policy).catch(() => undefined);
  return outcome;
}

async function ledger(orderId: string) {
  const order = await db.query<{ status: string; cancel_reason: string | null }>('SELECT status, cancel_reason FROM orders WHERE id = $1', [orderId]);
  const payment = await db.query<{ status: string; refunded_at: Date | null }>('SELECT status, refunded_at FROM payments WHERE order_id = $1', [orderId]);
  const calls = await db.query<{ kind: string; calls: number; rows: number }>(
    'SELECT kind, sum(calls)::int AS calls, count(*)::int AS rows FROM simulated_provider_charges WHERE order_id = $1 GROUP BY kind',
    [orderId],
  );
  const events = await db.query<{ type: string; refunded: boolean | null }>(
    "SELECT type, (payload->>'refunded')::boolean AS refunded FROM outbox WHERE payload->>'orderId' = $1 AND type = 'OrderCancelled'",
    [orderId],
  );
  const of = (kind: string) => calls.rows.find((row) => row.kind === kind) ?? { calls: 0, rows: 0 };
  return {
    order: order.rows[0]?.status,
    cancelReason: order.rows[0]?.cancel_reason,
    payment: payment.rows[0]?.status,
    refundedAt: payment.rows[0]?.refunded_at instanceof Date,
    charges: of('charge').calls,
    refunds: of('refund').calls,
    cancelledEvents: events.rows,
  };
}

const stock = async () => (await db.query<{ stock: number }>('SELECT stock FROM products WHERE id = $1', [productId])).rows[0]!.stock;

/** The resolver's own reads, narrowed to one order's payment (other tests' rows share the database). */
function strandedOnly(paymentId: string): StrandedQueries {
  const all = postgresStrandedQueries(db);
  return {
    checkoutsWithoutOrder: async () => [],
    pendingOrders: async () => [],
    outboxBehind: async () => false,
    refundsInFlight: async () => (await all.refundsInFlight(10_000)).filter((id) => id === paymentId),
  };
}
const bounds = { redriveAfterSeconds: 120, cancelAfterSeconds: 1800 };

describe('cancelling an order', () => {
  it('when a PAID order is cancelled five times at once, then it is refunded once, its stock comes back once, and one OrderCancelled says refunded', async () => {
    const before = await stock();
    const { orderId, userId, paymentId } = await paidOrder();
    // A provider 50 ms away, so the five finishers overlap at the provider, not only at the database.
    const distant = simulatedPaymentProvider(db, { declineAboveCents: centsFromNumber(100)!, latencyMs: 50 });
    const answers = await Promise.all(Array.from({ length: 5 }, () => cancelAsTheRoute(orderId, userId, distant)));
    expect(answers.every((answer) => answer.order.status === 'CANCELLED' && answer.order.cancelReason === 'customer')).toBe(true);
    // The finisher holding the lease may still be at the provider when the others have answered.
    await finishRefund(store, provider, paymentId, policy);
    await sleep(policy.leaseMs);
    expect(await finishRefund(store, provider, paymentId, policy)).toBe('not_refunding');
    expect(await ledger(orderId)).toEqual({
      order: 'CANCELLED',
      cancelReason: 'customer',
      payment: 'REFUNDED',
      refundedAt: true,
      charges: 1,
      refunds: 1,
      cancelledEvents: [{ type: 'OrderCancelled', refunded: true }],
    });
    expect(await stock()).toBe(before);
    // Cancelling again answers the same order and changes nothing.
    expect((await cancelAsTheRoute(orderId, userId)).order).toMatchObject({ status: 'CANCELLED', payment: { status: 'REFUNDED' } });
    expect((await ledger(orderId)).refunds).toBe(1);
  });

  it('when a PENDING order with no payment is cancelled, then its stock comes back and a later OrderCreated charges nothing', async () => {
    const before = await stock();
    const { orderId, userId, created } = await pendingOrder();
    expect((await cancelAsTheRoute(orderId, userId)).order).toMatchObject({ status: 'CANCELLED', cancelReason: 'customer' });
    expect(await processPayment(store, provider, created, noTrace, uuidv7(), policy)).toBe('order_not_pending');
    expect(await ledger(orderId)).toMatchObject({ order: 'CANCELLED', payment: undefined, charges: 0, refunds: 0, cancelledEvents: [{ refunded: false }] });
    expect(await stock()).toBe(before);
  });

  it('when the payment is in flight, then the cancel is recorded and applied with the result: charged once, refunded once', async () => {
    const before = await stock();
    const { orderId, userId, created } = await pendingOrder();
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const slow: PaymentProvider = { ...provider, charge: async (request, deadline) => gate.then(() => provider.charge(request, deadline)) };
    const paying = processPayment(store, slow, created, noTrace, uuidv7(), { providerTimeoutMs: 10_000, leaseMs: 12_000 });
    await sleep(50);
    expect((await cancelAsTheRoute(orderId, userId)).order).toMatchObject({ status: 'PENDING', cancelRequested: true });
    release();
    expect(await paying).toBe('succeeded');
    const paymentId = (await db.query<{ id: string }>('SELECT id FROM payments WHERE order_id = $1', [orderId])).rows[0]!.id;
    const applied = await applyPaymentResult(store, 'PaymentSucceeded', { orderId, paymentId, occurredAt: new Date().toISOString() });
    expect(applied).toMatchObject({ status: 'CANCELLED', refundOf: paymentId });
    expect(await finishRefund(store, provider, paymentId, policy)).toBe('refunded');
    expect(await ledger(orderId)).toMatchObject({ order: 'CANCELLED', payment: 'REFUNDED', charges: 1, refunds: 1, cancelledEvents: [{ refunded: true }] });
    expect(await stock()).toBe(before);
  });

  it('when cancels race the late application of a succeeded payment (10 orders), then each is cancelled once, refunded once, stock back once', async () => {
    const before = await stock();
    const orders = await Promise.all(
      Array.from({ length: 10 }, async () => {
        const order = await pendingOrder();
        const paymentId = uuidv7();
        expect(await processPayment(store, provider, order.created, noTrace, paymentId, policy)).toBe('succeeded');
        return { ...order, paymentId };
      }),
    );
    await Promise.all(
      orders.flatMap(({ orderId, userId, paymentId }) => [
        cancelAsTheRoute(orderId, userId),
        applyPaymentResult(store, 'PaymentSucceeded', { orderId, paymentId, occurredAt: new Date().toISOString() }).then(async (applied) => {
          if (applied?.refundOf) await finishRefund(store, provider, applied.refundOf, policy).catch(() => undefined);
        }),
        cancelAsTheRoute(orderId, userId),
      ]),
    );
    for (const { orderId } of orders) {
      // A refund the losing finisher left (its lease was taken) is finished by whoever comes next; here, nobody is left: all finished.
      expect(await ledger(orderId)).toMatchObject({ order: 'CANCELLED', payment: 'REFUNDED', charges: 1, refunds: 1, cancelledEvents: [{ refunded: true }] });
    }
    expect(await stock()).toBe(before);
  });

  it('when three finishers (the request, the orders function, the resolver) take up one refund at once, then the provider is asked once', async () => {
    const { orderId, userId, paymentId } = await paidOrder();
    expect((await cancelOrder(store, orderId, userId)).refundOf).toBe(paymentId);
    const distant = simulatedPaymentProvider(db, { declineAboveCents: centsFromNumber(100)!, latencyMs: 50 });
    const outcomes = await Promise.all(Array.from({ length: 3 }, () => finishRefund(store, distant, paymentId, policy)));
    expect(outcomes.sort()).toEqual(['not_refunding', 'not_refunding', 'refunded']);
    expect(await ledger(orderId)).toMatchObject({ payment: 'REFUNDED', refunds: 1 });
  });

  for (const crash of ['before the refund reaches the provider', 'after the provider recorded the refund (its answer lost)'] as const) {
    it(`when the process dies ${crash}, then the resolver finishes the refund once its lease expires: one refund call`, async () => {
      const { orderId, userId, paymentId } = await paidOrder();
      const dying: PaymentProvider = {
        ...provider,
        async refund(request, deadline) {
          if (crash !== 'before the refund reaches the provider') await provider.refund(request, deadline);
          throw connectionLost();
        },
      };
      expect((await cancelAsTheRoute(orderId, userId, dying)).order).toMatchObject({ status: 'CANCELLED', payment: { status: 'REFUNDING' } });
      // While the dead finisher's lease is live, nobody else calls the provider.
      expect(await finishRefund(store, provider, paymentId, policy)).toBe('not_refunding');
      await cancelAsTheRoute(orderId, userId);
      expect((await ledger(orderId)).payment).toBe('REFUNDING');

      // The resolver lists a refund once its lease expired and nobody touched it for 5 s.
      await sleep(5_500);
      const done = await resolveStrandedOrders({ orders: store, stranded: strandedOnly(paymentId), provider, bounds, payments: policy });
      expect(done).toMatchObject({ refund_finished: 1, failed: 0 });
      expect(await ledger(orderId)).toMatchObject({ order: 'CANCELLED', payment: 'REFUNDED', refundedAt: true, charges: 1, refunds: 1 });
      expect(await resolveStrandedOrders({ orders: store, stranded: strandedOnly(paymentId), provider, bounds, payments: policy })).toMatchObject({ refund_finished: 0 });
    }, 20_000);
  }

  it('when the order is not placed yet (its checkout just answered 202), then it reads PENDING, a cancel enters it CANCELLED, and its CartCheckedOut arriving later places nothing', async () => {
    const before = await stock();
    const { orderId, userId, checkout } = await acceptedCheckout();
    expect(await orderQueries(store).get(orderId, { userId, canReadAll: false })).toMatchObject({ id: orderId, status: 'PENDING', total: 25, items: [{ productId, quantity: 2 }] });
    await expect(orderQueries(store).get(orderId, { userId: 'someone else', canReadAll: false })).rejects.toMatchObject({ status: 404 });
    await expect(cancelOrder(store, orderId, 'someone else')).rejects.toMatchObject({ code: 'not_found', status: 404 });

    expect((await cancelAsTheRoute(orderId, userId)).order).toMatchObject({ id: orderId, status: 'CANCELLED', cancelReason: 'customer', total: 25 });
    expect(await placeOrderFromCheckout(store, checkout, noTrace)).toBe('duplicate');
    expect((await cancelAsTheRoute(orderId, userId)).order.status).toBe('CANCELLED');
    expect(await ledger(orderId)).toEqual({ order: 'CANCELLED', cancelReason: 'customer', payment: undefined, refundedAt: false, charges: 0, refunds: 0, cancelledEvents: [{ type: 'OrderCancelled', refunded: false }] });
    expect(await stock()).toBe(before);
  });

  it('when cancels race the placing of their not-yet-placed orders (10 orders), then each ends CANCELLED once, with one OrderCancelled, and no stock held', async () => {
    const before = await stock();
    const accepted = await Promise.all(Array.from({ length: 10 }, () => acceptedCheckout()));
    await Promise.all(accepted.flatMap(({ orderId, userId, checkout }) => [cancelAsTheRoute(orderId, userId), placeOrderFromCheckout(store, checkout, noTrace)]));
    for (const { orderId } of accepted) expect(await ledger(orderId)).toMatchObject({ order: 'CANCELLED', cancelReason: 'customer', charges: 0, cancelledEvents: [{ type: 'OrderCancelled', refunded: false }] });
    expect(await stock()).toBe(before);
  });

  it('when the order is PAYMENT_FAILED, then 409 order_not_cancellable; another user gets 404', async () => {
    const { orderId, userId, created } = await pendingOrder(200);
    expect(await processPayment(store, provider, created, noTrace, uuidv7(), policy)).toBe('failed');
    const paymentId = (await db.query<{ id: string }>('SELECT id FROM payments WHERE order_id = $1', [orderId])).rows[0]!.id;
    await applyPaymentResult(store, 'PaymentFailed', { orderId, paymentId, reason: 'declined', occurredAt: new Date().toISOString() });
    // The refusal is not thrown inside the transaction: that would roll back the group-commit batch it shares.
    const thrownInside: unknown[] = [];
    const watched: OrderStore = {
      ...store,
      transaction: (work, lane) =>
        store.transaction(async (uow) => {
          try {
            return await work(uow);
          } catch (error) {
            thrownInside.push(error);
            throw error;
          }
        }, lane),
    };
    await expect(cancelOrder(watched, orderId, userId)).rejects.toMatchObject({ code: 'order_not_cancellable', status: 409 });
    expect(thrownInside).toEqual([]);
    await expect(cancelOrder(store, orderId, 'someone else')).rejects.toMatchObject({ code: 'not_found', status: 404 });
  });
});

describe('model: one order under random interleavings of payment deliveries, results, cancels and refund finishers', () => {
  type Op = 'deliver' | 'apply' | 'cancel' | 'finish';
  const opArb = fc.constantFrom<Op>('deliver', 'deliver', 'apply', 'cancel', 'cancel', 'finish');
  const runs = Number(process.env.CANCEL_MODEL_RUNS ?? 40);
  const quick = { providerTimeoutMs: 300, leaseMs: 400 };
  const ignoreWaiting = (error: unknown) => {
    if (!(error instanceof PaymentLeaseHeld) && !isTransient(error)) throw error;
  };

  it(`when ${runs} random batches of concurrent operations run on one order, then it is charged at most once, refunded exactly when a charged order was cancelled, and its stock is right`, async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.array(opArb, { minLength: 1, maxLength: 4 }), { minLength: 1, maxLength: 4 }), fc.boolean(), async (batches, declined) => {
        const before = await stock();
        const { orderId, userId, created } = await pendingOrder(declined ? 200 : 25);
        let cancelled = false;
        const paymentOf = async () => (await db.query<{ id: string; status: string }>('SELECT id, status FROM payments WHERE order_id = $1', [orderId])).rows[0];
        const apply = async () => {
          const payment = await paymentOf();
          if (payment?.status !== 'SUCCEEDED' && payment?.status !== 'FAILED') return;
          const applied = await applyPaymentResult(store, payment.status === 'SUCCEEDED' ? 'PaymentSucceeded' : 'PaymentFailed', { orderId, paymentId: payment.id, occurredAt: new Date().toISOString() });
          if (applied?.refundOf) await finishRefund(store, provider, applied.refundOf, quick);
        };
        const run: Record<Op, () => Promise<unknown>> = {
          deliver: () => processPayment(store, provider, created, noTrace, uuidv7(), quick).catch(ignoreWaiting),
          apply,
          cancel: async () => {
            const outcome = await cancelOrder(store, orderId, userId).catch((error: { code?: string }) => {
              if (error.code !== 'order_not_cancellable') throw error;
              return undefined;
            });
            if (!outcome) return;
            cancelled = true;
            if (outcome.refundOf) await finishRefund(store, provider, outcome.refundOf, quick);
          },
          finish: async () => {
            const payment = await paymentOf();
            if (payment) await finishRefund(store, provider, payment.id, quick);
          },
        };
        for (const batch of batches) await Promise.all(batch.map((op) => run[op]()));

        // Whatever was left: the redelivery and the resolver's work, after the leases expire.
        await sleep(quick.leaseMs);
        await run.deliver();
        await apply();
        await run.finish();

        const state = await ledger(orderId);
        const charged = state.charges > 0 && !declined;
        expect(state.charges).toBeLessThanOrEqual(1);
        if (cancelled) {
          expect(state.order).toBe('CANCELLED');
          expect(state.refunds).toBe(charged ? 1 : 0);
          if (charged) expect(state.payment).toBe('REFUNDED');
        } else {
          expect(state.order).toBe(declined ? 'PAYMENT_FAILED' : 'PAID');
          expect(state.refunds).toBe(0);
        }
        expect(await stock()).toBe(state.order === 'PAID' ? before - 2 : before);
      }),
      { numRuns: runs },
    );
  }, 300_000);
});
