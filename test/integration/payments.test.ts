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
import { processPayment, takeOverPayment, type PaymentHandling, type PaymentProvider } from '../../src/domain/payments.js';
import { resolveStrandedOrders, type StrandedQueries } from '../../src/domain/recovery.js';
import { postgresStrandedQueries } from '../../src/adapters/postgres/strandedQueries.js';
import { postgresUrl } from '../support/pipeline.js';

/*
 * Charge once, with at most one live provider call, on the real Postgres store and the simulated
 * provider's ledger (it counts every charge request that reaches it, repeated keys included): a
 * dependency failure at any point of a payment, a provider slower than its deadline, a host that
 * dies mid-call (an invocation abandoned for good), and several takers at once must each end with
 * the payment settled, one provider call and one Payment* event. Nobody takes a payment over while
 * its lease is live.
 */

const connectionLost = () => Object.assign(new Error('Connection terminated unexpectedly'), { code: 'ECONNRESET' });
const noTrace = {};
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
/** Short bounds, so a lease expires within the test: the provider deadline ends 0.7 s before the lease. */
const policy = { providerTimeoutMs: 300, leaseMs: 1_000 };
/** The resolver's production bounds: its idle bound never comes into play within a test. */
const productionBounds = { redriveAfterSeconds: 120, cancelAfterSeconds: 1800 };

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
  const payment = (id: string) => ({ id, orderId, userId, amountCents: centsFromNumber(25)! });
  const userId = `payments-${orderId}`;
  const checkout = { checkoutId: uuidv7(), orderId, userId, items: [{ productId, name: 'Payment test beans', unitPrice: 12.5, quantity: 2 }], total: 25, occurredAt: new Date().toISOString() };
  expect(await placeOrderFromCheckout(store, checkout, noTrace)).toBe('created');
  return { store, provider, order: { orderId, userId, total: 25, occurredAt: checkout.occurredAt }, attempt: uuidv7(), payment };
}

/** Fails the `nth` transaction (1-based; a payment's start and its settlement are one each) of the store, before its commit or after it. */
function failingTransaction(store: OrderStore, nth: number, when: 'before commit' | 'after commit'): OrderStore {
  let count = 0;
  const failIfNth = async <T>(run: (failBeforeCommit: boolean) => Promise<T>): Promise<T> => {
    const mine = ++count === nth;
    const result = await run(mine && when === 'before commit');
    if (mine) throw connectionLost();
    return result;
  };
  const thenFail =
    <A extends unknown[], R>(work: (...args: A) => Promise<R>) =>
    async (...args: A): Promise<R> => {
      await work(...args);
      throw connectionLost();
    };
  return {
    ...store,
    transaction: (work, lane) => failIfNth((beforeCommit) => store.transaction(beforeCommit ? thenFail(work) : work, lane)),
    startPayment: (payment, then) => failIfNth((beforeCommit) => store.startPayment(payment, beforeCommit ? thenFail(then) : then)),
    settlePayment: (settlement, then) => failIfNth((beforeCommit) => store.settlePayment(settlement, beforeCommit ? thenFail(then) : then)),
  };
}

function failingProvider(provider: PaymentProvider, when: 'before the call' | 'after the charge is recorded'): PaymentProvider {
  return {
    lookup: (key, deadline) => provider.lookup(key, deadline),
    refund: (request, deadline) => provider.refund(request, deadline),
    async charge(request, deadline) {
      if (when === 'before the call') throw connectionLost();
      await provider.charge(request, deadline);
      throw connectionLost();
    },
  };
}

/** The host dies during the provider call: the invocation never goes on, and nothing of it aborts. */
function dyingProvider(provider: PaymentProvider, when: 'before the request reaches the provider' | 'after the provider recorded the charge'): PaymentProvider {
  return {
    lookup: (key, deadline) => provider.lookup(key, deadline),
    refund: (request, deadline) => provider.refund(request, deadline),
    async charge(request, deadline) {
      if (when === 'after the provider recorded the charge') await provider.charge(request, deadline);
      return new Promise(() => {});
    },
  };
}

/** One delivery as the consumer runs it: retried while the failure is transient (a dependency down, a lease held). */
async function deliver(store: OrderStore, provider: PaymentProvider, order: Parameters<typeof processPayment>[2], attempt: string): Promise<PaymentHandling> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    try {
      return await processPayment(store, provider, order, noTrace, attempt, policy);
    } catch (error) {
      if (!isTransient(error) || Date.now() > deadline) throw error;
      await sleep(50);
    }
  }
}

/** The resolver's own reads, narrowed to one order (other tests' orders share the database). */
function strandedOnly(orderId: string): StrandedQueries {
  const all = postgresStrandedQueries(db);
  return {
    checkoutsWithoutOrder: async () => [],
    outboxBehind: () => all.outboxBehind(),
    pendingOrders: async (idleSeconds, limit) => (await all.pendingOrders(idleSeconds, 10_000)).filter((o) => o.orderId === orderId).slice(0, limit),
    refundsInFlight: async () => [],
  };
}

/** The payment's status once settled or after `timeoutMs`, and how long that took. */
async function settledWithin(orderId: string, timeoutMs: number, tick: () => Promise<unknown> = async () => undefined) {
  const started = Date.now();
  for (;;) {
    await tick();
    const { rows } = await db.query<{ status: string }>('SELECT status FROM payments WHERE order_id = $1', [orderId]);
    if (rows[0]?.status !== 'PENDING' || Date.now() - started > timeoutMs) return { status: rows[0]?.status, ms: Date.now() - started };
    await sleep(100);
  }
}

async function ledger(orderId: string) {
  const payment = await db.query<{ id: string; status: string }>('SELECT id, status FROM payments WHERE order_id = $1', [orderId]);
  const calls = await db.query<{ calls: number }>('SELECT coalesce(sum(calls), 0)::int AS calls FROM simulated_provider_charges WHERE order_id = $1', [orderId]);
  const events = await db.query<{ type: string }>("SELECT type FROM outbox WHERE payload->>'orderId' = $1 AND type LIKE 'Payment%'", [orderId]);
  return { payment: payment.rows[0], calls: calls.rows[0]!.calls, events: events.rows.map((r) => r.type) };
}

describe('the payment lane beside the order lane', () => {
  it('when an order transaction is held open, then a payment starts, is charged and is recorded meanwhile: the lanes do not wait for each other', async () => {
    const { store, provider, order, attempt } = await pendingPayment();
    let release = () => undefined as void;
    let started = () => undefined as void;
    const holding = new Promise<void>((resolve) => (started = resolve));
    const held = store.transaction(() => new Promise<void>((resolve) => ((release = resolve), started())));
    await holding;
    try {
      const paid = processPayment(store, provider, order, noTrace, attempt, policy);
      expect(await Promise.race([paid, sleep(5_000).then(() => 'waited for the order lane')])).toBe('succeeded');
    } finally {
      release();
      await held;
    }
  });
});

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
    it(`when the connection is lost ${failure.name}, then the retry settles it (after the lease, if one was taken): one provider call, one PaymentSucceeded; another delivery does nothing`, async () => {
      const { store, provider, order, attempt } = await pendingPayment();
      const [brokenStore, brokenProvider] = failure.breaks(store, provider);
      // The consumer retries only what it takes for a dependency failure.
      await expect(processPayment(brokenStore, brokenProvider, order, noTrace, attempt, policy)).rejects.toSatisfy(isTransient);
      expect(['succeeded', 'duplicate']).toContain(await deliver(store, provider, order, attempt));
      expect(await deliver(store, provider, order, uuidv7())).toBe('duplicate');

      expect(await ledger(order.orderId)).toEqual({ payment: { id: attempt, status: 'SUCCEEDED' }, calls: 1, events: ['PaymentSucceeded'] });
    });
  }

  it('when the resolver and the retrying delivery take over one payment at once, then the provider is called once', async () => {
    const { store, provider: slowProvider, order, attempt, payment } = await pendingPayment(100);
    await expect(processPayment(store, failingProvider(slowProvider, 'before the call'), order, noTrace, attempt, policy)).rejects.toSatisfy(isTransient);
    await sleep(policy.leaseMs);
    const outcomes = await Promise.all([deliver(store, slowProvider, order, attempt), takeOverPayment(store, slowProvider, payment(attempt), noTrace, policy)]);
    expect(outcomes.filter((o) => o === 'succeeded')).toHaveLength(1);
    expect(await ledger(order.orderId)).toEqual({ payment: { id: attempt, status: 'SUCCEEDED' }, calls: 1, events: ['PaymentSucceeded'] });
  });
});

describe('a provider call slower than its deadline (issue 18, defect 2)', () => {
  it('when the first call outlives the old resolver bound (twice a 1 s idle bound), then the resolver takes over only after the deadline and lease: 1 provider call, not 2', async () => {
    // The network to the provider is slow for the first call only (3 s, past its 0.3 s deadline).
    const { store, provider: slowProvider, order, attempt } = await pendingPayment(3_000);
    const fastProvider = simulatedPaymentProvider(db, { declineAboveCents: centsFromNumber(100)!, latencyMs: 0 });
    const first = processPayment(store, slowProvider, order, noTrace, attempt, policy).catch((error: unknown) => error);
    await sleep(2_500);
    const done = await resolveStrandedOrders({ orders: store, stranded: strandedOnly(order.orderId), provider: fastProvider, bounds: { redriveAfterSeconds: 1, cancelAfterSeconds: 1800 }, payments: policy });
    expect(done).toMatchObject({ payment_settled: 1, failed: 0 });
    // Had the slow call not been given up on at its deadline, it would reach the provider now.
    await first;
    await sleep(1_000);
    expect(await ledger(order.orderId)).toEqual({ payment: { id: attempt, status: 'SUCCEEDED' }, calls: 1, events: ['PaymentSucceeded'] });
  });

  it('when a call passes its deadline, then the delivery gives up on it at once with a transient error and leaves the payment PENDING under its lease', async () => {
    const { store, provider: slowProvider, order, attempt } = await pendingPayment(3_000);
    const started = Date.now();
    await expect(processPayment(store, slowProvider, order, noTrace, attempt, policy)).rejects.toSatisfy(isTransient);
    expect(Date.now() - started).toBeLessThan(policy.providerTimeoutMs + 500);
    expect(await ledger(order.orderId)).toEqual({ payment: { id: attempt, status: 'PENDING' }, calls: 0, events: [] });
  });
});

describe('a host that dies mid-call (issue 18, defect 3): the payment is taken over once its lease expires', () => {
  for (const when of ['before the request reaches the provider', 'after the provider recorded the charge'] as const) {
    it(`when the host dies ${when} and the broker redelivers OrderCreated, then the redelivery waits for the lease, takes over and settles it: 1 provider call in all`, async () => {
      const { store, provider, order, attempt } = await pendingPayment();
      void processPayment(store, dyingProvider(provider, when), order, noTrace, attempt, policy);
      await sleep(50);
      const started = Date.now();
      expect(await deliver(store, provider, order, uuidv7())).toBe('succeeded');
      const waited = Date.now() - started;
      expect(waited).toBeGreaterThanOrEqual(policy.leaseMs - 100);
      expect(waited).toBeLessThan(policy.leaseMs + 1_000);
      expect(await ledger(order.orderId)).toEqual({ payment: { id: attempt, status: 'SUCCEEDED' }, calls: 1, events: ['PaymentSucceeded'] });
    });

    it(`when the host dies ${when} and no redelivery comes, then the resolver takes it over once the lease expires, not after its idle bound: 1 provider call in all`, async () => {
      const { store, provider, order, attempt } = await pendingPayment();
      void processPayment(store, dyingProvider(provider, when), order, noTrace, attempt, policy);
      await sleep(50);
      const resolver = () => resolveStrandedOrders({ orders: store, stranded: strandedOnly(order.orderId), provider, bounds: productionBounds, payments: policy });
      const settled = await settledWithin(order.orderId, 5_000, resolver);
      expect(settled.status).toBe('SUCCEEDED');
      expect(settled.ms).toBeGreaterThanOrEqual(policy.leaseMs - 150);
      expect(await ledger(order.orderId)).toEqual({ payment: { id: attempt, status: 'SUCCEEDED' }, calls: 1, events: ['PaymentSucceeded'] });
    });
  }

  it('when four redeliveries and two resolver runs race for one expired lease, then one takes it over and the provider is called once', async () => {
    const { store, provider: slowProvider, order, attempt } = await pendingPayment(100);
    void processPayment(store, dyingProvider(slowProvider, 'before the request reaches the provider'), order, noTrace, attempt, policy);
    await sleep(policy.leaseMs + 50);
    const resolver = () => resolveStrandedOrders({ orders: store, stranded: strandedOnly(order.orderId), provider: slowProvider, bounds: productionBounds, payments: policy });
    const [deliveries, resolvers] = await Promise.all([Promise.all([1, 2, 3, 4].map(() => deliver(store, slowProvider, order, uuidv7()))), Promise.all([resolver(), resolver()])]);
    const settledBy = deliveries.filter((o) => o === 'succeeded').length + resolvers.filter((r) => r.payment_settled === 1).length;
    expect(await ledger(order.orderId)).toEqual({ payment: { id: attempt, status: 'SUCCEEDED' }, calls: 1, events: ['PaymentSucceeded'] });
    expect(settledBy).toBe(1);
  });

  it('when a duplicate delivery arrives while a slow but live call holds the lease, then it waits and finds the payment settled: it never calls the provider', async () => {
    const { store, provider: slowProvider, order, attempt } = await pendingPayment(200);
    const first = processPayment(store, slowProvider, order, noTrace, attempt, policy);
    await sleep(50);
    const second = await deliver(store, slowProvider, order, uuidv7());
    expect([await first, second]).toEqual(['succeeded', 'duplicate']);
    expect(await ledger(order.orderId)).toEqual({ payment: { id: attempt, status: 'SUCCEEDED' }, calls: 1, events: ['PaymentSucceeded'] });
  });
});
