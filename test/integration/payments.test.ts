import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { simulatedPaymentProvider } from '../../src/adapters/payments/simulatedProvider.js';
import { isTransient } from '../../src/app/consumeEvent.js';
import { postgresOrderStore } from '../../src/adapters/postgres/orderStore.js';
import { OutboxRelay } from '../../src/adapters/postgres/outbox.js';
import type { EventPublisher } from '../../src/domain/events.js';
import { uuidv7 } from '../../src/domain/ids.js';
import { centsFromNumber } from '../../src/domain/money.js';
import { placeOrderFromCheckout, type OrderStore } from '../../src/domain/orders.js';
import { processPayment, settlePayment, type PaymentProvider } from '../../src/domain/payments.js';
import { postgresUrl } from '../support/pipeline.js';

/*
 * Charge once, on the real Postgres store and the simulated provider's ledger: a dependency failure
 * at any point of a payment, then the retry the consumer makes within the same delivery (same
 * attempt id), must end with the payment settled, one provider call and one Payment* event. Another
 * delivery of the same OrderCreated never calls the provider.
 */

const connectionLost = () => Object.assign(new Error('Connection terminated unexpectedly'), { code: 'ECONNRESET' });
const noTrace = {};

let db: pg.Pool;
let relay: OutboxRelay;
const publisher: EventPublisher = { publish: async () => undefined, check: async () => undefined };
const orderIds: string[] = [];
let productId: string;

beforeAll(async () => {
  db = new pg.Pool({ connectionString: postgresUrl, max: 4 });
  relay = new OutboxRelay(db, publisher);
  productId = uuidv7();
  await db.query("INSERT INTO products (id, name, price, stock) VALUES ($1, 'Payment test beans', 12.5, 1000)", [productId]);
});
afterAll(async () => {
  await relay?.flush();
  if (db) {
    await db.query("DELETE FROM outbox WHERE payload->>'orderId' = ANY($1::text[])", [orderIds]);
    await db.query('DELETE FROM simulated_provider_charges WHERE order_id = ANY($1::uuid[])', [orderIds]);
    await db.query('DELETE FROM payments WHERE order_id = ANY($1::uuid[])', [orderIds]);
    await db.query('DELETE FROM orders WHERE id = ANY($1::uuid[])', [orderIds]);
    await db.query('DELETE FROM products WHERE id = $1', [productId]);
  }
  await db?.end();
});

/** A PENDING order on the real store, the simulated provider, and the attempt id of the delivery that pays it. */
async function pendingPayment(providerLatencyMs = 0) {
  const store = postgresOrderStore(db, relay);
  const provider = simulatedPaymentProvider(db, { declineAboveCents: centsFromNumber(100)!, latencyMs: providerLatencyMs });
  const orderId = uuidv7();
  orderIds.push(orderId);
  const userId = `payments-${orderId}`;
  const checkout = { checkoutId: uuidv7(), orderId, userId, items: [{ productId, name: 'Payment test beans', unitPrice: 12.5, quantity: 2 }], total: 25, occurredAt: new Date().toISOString() };
  expect(await placeOrderFromCheckout(store, checkout, noTrace)).toBe('created');
  return { store, provider, order: { orderId, userId, total: 25, occurredAt: checkout.occurredAt }, attempt: uuidv7() };
}

/** Fails the `nth` transaction (1-based) of the store, before its commit or after it. */
function failingTransaction(store: OrderStore, nth: number, when: 'before commit' | 'after commit'): OrderStore {
  let count = 0;
  return {
    ...store,
    async transaction(work) {
      const mine = ++count === nth;
      if (mine && when === 'before commit') return store.transaction(async (uow) => work(uow).then(() => Promise.reject(connectionLost())));
      const result = await store.transaction(work);
      if (mine) throw connectionLost();
      return result;
    },
  };
}

function failingProvider(provider: PaymentProvider, when: 'before the call' | 'after the charge is recorded'): PaymentProvider {
  return {
    lookup: (key) => provider.lookup(key),
    async charge(request) {
      if (when === 'before the call') throw connectionLost();
      await provider.charge(request);
      throw connectionLost();
    },
  };
}

async function ledger(orderId: string) {
  const payment = await db.query<{ id: string; status: string }>('SELECT id, status FROM payments WHERE order_id = $1', [orderId]);
  const calls = await db.query<{ calls: number }>('SELECT coalesce(sum(calls), 0)::int AS calls FROM simulated_provider_charges WHERE order_id = $1', [orderId]);
  const events = await db.query<{ type: string }>("SELECT type FROM outbox WHERE payload->>'orderId' = $1 AND type LIKE 'Payment%'", [orderId]);
  return { payment: payment.rows[0], calls: calls.rows[0]!.calls, events: events.rows.map((r) => r.type) };
}

describe('a payment interrupted by a dependency failure, then retried by the same delivery', () => {
  const failures: { name: string; breaks: (store: OrderStore, provider: PaymentProvider) => [OrderStore, PaymentProvider] }[] = [
    { name: 'before the PENDING row commits', breaks: (store, provider) => [failingTransaction(store, 1, 'before commit'), provider] },
    { name: 'after the PENDING row commits (the answer lost)', breaks: (store, provider) => [failingTransaction(store, 1, 'after commit'), provider] },
    { name: 'before the provider is reached', breaks: (store, provider) => [store, failingProvider(provider, 'before the call')] },
    { name: 'after the provider recorded the charge (its answer lost)', breaks: (store, provider) => [store, failingProvider(provider, 'after the charge is recorded')] },
    { name: 'before the result commits', breaks: (store, provider) => [failingTransaction(store, 2, 'before commit'), provider] },
    { name: 'after the result commits (the answer lost)', breaks: (store, provider) => [failingTransaction(store, 2, 'after commit'), provider] },
  ];

  for (const failure of failures) {
    it(`when the connection is lost ${failure.name}, then the retry settles it: one provider call, one PaymentSucceeded; another delivery does nothing`, async () => {
      const { store, provider, order, attempt } = await pendingPayment();
      const [brokenStore, brokenProvider] = failure.breaks(store, provider);
      // The consumer retries only what it takes for a dependency failure.
      await expect(processPayment(brokenStore, brokenProvider, order, noTrace, attempt)).rejects.toSatisfy(isTransient);
      expect(['succeeded', 'duplicate']).toContain(await processPayment(store, provider, order, noTrace, attempt));
      expect(await processPayment(store, provider, order, noTrace, uuidv7())).toBe('duplicate');

      expect(await ledger(order.orderId)).toEqual({ payment: { id: attempt, status: 'SUCCEEDED' }, calls: 1, events: ['PaymentSucceeded'] });
    });
  }

  it('when the resolver and the retrying delivery resume one payment at once, then the provider is called once', async () => {
    const { store, provider, order, attempt } = await pendingPayment(100);
    await expect(processPayment(store, failingProvider(provider, 'before the call'), order, noTrace, attempt)).rejects.toSatisfy(isTransient);
    const payment = { id: attempt, orderId: order.orderId, userId: order.userId, amountCents: centsFromNumber(order.total)! };
    const outcomes = await Promise.all([
      processPayment(store, provider, order, noTrace, attempt),
      settlePayment(store, provider, payment, noTrace, { resume: true, chargeIfUnknown: true }),
    ]);
    expect(outcomes.sort()).toEqual(['duplicate', 'succeeded']);
    expect(await ledger(order.orderId)).toEqual({ payment: { id: attempt, status: 'SUCCEEDED' }, calls: 1, events: ['PaymentSucceeded'] });
  });

  it('when another delivery finds a payment it did not start still PENDING, then it leaves it to its owner and does not call the provider', async () => {
    const { store, provider, order, attempt } = await pendingPayment();
    await expect(processPayment(store, failingProvider(provider, 'before the call'), order, noTrace, attempt)).rejects.toSatisfy(isTransient);
    expect(await processPayment(store, provider, order, noTrace, uuidv7())).toBe('duplicate');
    expect(await ledger(order.orderId)).toEqual({ payment: { id: attempt, status: 'PENDING' }, calls: 0, events: [] });
  });
});
