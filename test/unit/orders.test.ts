import { beforeEach, describe, expect, it } from 'vitest';
import type { CartCheckedOut, OutgoingEvent } from '../../src/domain/events.js';
import { applyPaymentResult, moveOrder, orderQueries, placeOrderFromCheckout, type Order, type OrderStatus, type OrderStore, type OrderUnitOfWork, type Payment, type OrderToPlace, type MovedOrder, type PaymentResultMove, type PaymentSettlement, type PaymentStart, type PaymentStartOutcome, type Reservation } from '../../src/domain/orders.js';
import { uuidv7 } from '../../src/domain/ids.js';
import { cancellableStatuses, orderStatuses, orderTransition } from '../../src/domain/orderLifecycle.js';
import { PaymentLeaseHeld, processPayment, type ChargeOutcome, type PaymentProvider, type RefundOutcome } from '../../src/domain/payments.js';
import { resolveStrandedOrders, type PendingOrder, type StrandedQueries } from '../../src/domain/recovery.js';

/** An in-memory OrderStore with all-or-nothing transactions, to test the use-cases' decisions. */
class MemoryOrderStore implements OrderStore {
  orders = new Map<string, Order>();
  payments = new Map<string, Payment>();
  /** Payment leases by payment id (none: free to take over); times on `clockMs`, which tests move. */
  leases = new Map<string, { holder: string; expiresAt: number }>();
  /** Refund keys by payment id. */
  refundIds = new Map<string, string>();
  clockMs = 0;
  stock = new Map<string, number>();
  outbox: OutgoingEvent[] = [];
  redriven = new Set<string>();

  async transaction<T>(work: (uow: OrderUnitOfWork) => Promise<T>): Promise<T> {
    const snapshot = structuredClone({ orders: this.orders, payments: this.payments, leases: this.leases, refundIds: this.refundIds, stock: this.stock, outbox: this.outbox, redriven: this.redriven });
    try {
      return await work(this.#uow());
    } catch (error) {
      Object.assign(this, snapshot);
      throw error;
    }
  }

  placeOrder<T>(order: OrderToPlace, then: (reservation: Reservation | 'exists', uow: OrderUnitOfWork) => Promise<T>): Promise<T> {
    return this.transaction(async (uow) => {
      if (this.orders.has(order.id)) return then('exists', uow);
      this.orders.set(order.id, { ...order, createdAt: new Date(), updatedAt: new Date(), payment: null });
      const fits = order.lines.every((line) => (this.stock.get(line.productId) ?? 0) >= line.quantity);
      if (fits) for (const line of order.lines) this.stock.set(line.productId, this.stock.get(line.productId)! - line.quantity);
      const short = order.lines.find((line) => (this.stock.get(line.productId) ?? 0) < line.quantity);
      return then(fits ? { ok: true } : { ok: false, reason: `not enough stock for ${short!.name}` }, uow);
    });
  }

  startPayment<T>(payment: PaymentStart, then: (started: PaymentStartOutcome, uow: OrderUnitOfWork) => Promise<T>): Promise<T> {
    return this.transaction(async (uow) => {
      if (this.orders.get(payment.orderId)?.status !== 'PENDING') return then('order_not_pending', uow);
      if (this.payments.has(payment.orderId)) return then('exists', uow);
      this.payments.set(payment.orderId, { id: payment.id, orderId: payment.orderId, status: 'PENDING', amountCents: payment.amountCents, reason: null, createdAt: new Date() });
      this.leases.set(payment.id, { holder: payment.id, expiresAt: this.clockMs + payment.leaseMs });
      return then('started', uow);
    });
  }

  settlePayment<T>(settlement: PaymentSettlement, then: (settled: boolean, uow: OrderUnitOfWork) => Promise<T>): Promise<T> {
    return this.transaction(async (uow) => {
      const payment = [...this.payments.values()].find((p) => p.id === settlement.paymentId);
      const settled = payment?.status === 'PENDING';
      if (settled) Object.assign(payment, { status: settlement.status, reason: settlement.reason });
      return then(settled, uow);
    });
  }

  moveOnPaymentResult<T>(move: PaymentResultMove, then: (moved: MovedOrder | undefined, uow: OrderUnitOfWork) => Promise<T>): Promise<T> {
    return this.transaction(async (uow) => then(await uow.transition(move.orderId, 'PENDING', move.to, move.change, true), uow));
  }

  #uow(): OrderUnitOfWork {
    return {
      insertOrder: async (order) => {
        if (this.orders.has(order.id)) return false;
        this.orders.set(order.id, { ...order, createdAt: new Date(), updatedAt: new Date(), payment: null });
        return true;
      },
      transition: async (orderId, from: OrderStatus, to: OrderStatus, change, unlessCancelRequested) => {
        const order = this.orders.get(orderId);
        if (!order || order.status !== from || (unlessCancelRequested && order.cancelRequested)) return undefined;
        order.status = to;
        order.reason = change.reason ?? order.reason;
        order.cancelReason = change.cancelReason ?? order.cancelReason;
        return { userId: order.userId, totalCents: order.totalCents, checkedOutAt: order.checkedOutAt };
      },
      releaseStock: async (orderId) => {
        for (const line of this.orders.get(orderId)!.lines) this.stock.set(line.productId, this.stock.get(line.productId)! + line.quantity);
      },
      lockOrder: async (orderId) => this.orders.get(orderId)?.status,
      paymentOf: async (orderId) => this.payments.get(orderId),
      takeOverPayment: async (paymentId, holder, leaseMs) => {
        const pending = [...this.payments.values()].some((p) => p.id === paymentId && p.status === 'PENDING');
        if (!pending || (this.leases.get(paymentId)?.expiresAt ?? -Infinity) > this.clockMs) return false;
        this.leases.set(paymentId, { holder, expiresAt: this.clockMs + leaseMs });
        return true;
      },
      markRedriven: async (orderId) => {
        this.redriven.add(orderId);
      },
      requestCancel: async (orderId) => {
        this.orders.get(orderId)!.cancelRequested = true;
      },
      cancelRequested: async (orderId) => this.orders.get(orderId)?.cancelRequested ?? false,
      startRefund: async (paymentId, refundId) => {
        const payment = [...this.payments.values()].find((p) => p.id === paymentId);
        if (payment?.status !== 'SUCCEEDED') return false;
        payment.status = 'REFUNDING';
        this.refundIds.set(paymentId, refundId);
        this.leases.delete(paymentId);
        return true;
      },
      leaseRefund: async (paymentId, holder, leaseMs) => {
        const payment = [...this.payments.values()].find((p) => p.id === paymentId);
        if (payment?.status !== 'REFUNDING' || (this.leases.get(paymentId)?.expiresAt ?? -Infinity) > this.clockMs) return undefined;
        this.leases.set(paymentId, { holder, expiresAt: this.clockMs + leaseMs });
        return { refundId: this.refundIds.get(paymentId)!, orderId: payment.orderId, amountCents: payment.amountCents };
      },
      completeRefund: async (paymentId) => {
        const payment = [...this.payments.values()].find((p) => p.id === paymentId);
        if (payment?.status !== 'REFUNDING') return false;
        Object.assign(payment, { status: 'REFUNDED', refundedAt: new Date() });
        return true;
      },
      addToOutbox: async (event) => {
        this.outbox.push(event);
      },
    };
  }

  async get(orderId: string) {
    const order = this.orders.get(orderId);
    return order && { ...order, payment: this.payments.get(orderId) ?? null };
  }
  /** Checkouts accepted here are placed at once: none ever waits for its order. */
  async acceptedCheckout() {
    return undefined;
  }

  async listForUser(userId: string, limit: number, before?: string) {
    return [...this.orders.values()].filter((o) => o.userId === userId && (!before || o.id < before)).sort((a, b) => b.id.localeCompare(a.id)).slice(0, limit);
  }
}

const noRefund = async (): Promise<RefundOutcome> => Promise.reject(new Error('no refund expected'));

/** A provider that records every call and answers like the simulated one (idempotent per key). */
function countingProvider(
  declineAboveCents = 100_00,
): PaymentProvider & { calls: string[]; refunds: string[]; answers: Map<string, ChargeOutcome>; refunded: Map<string, RefundOutcome> } {
  const calls: string[] = [];
  const refunds: string[] = [];
  const answers = new Map<string, ChargeOutcome>();
  const refunded = new Map<string, RefundOutcome>();
  return {
    calls,
    refunds,
    answers,
    refunded,
    async lookup(idempotencyKey) {
      const charge = answers.get(idempotencyKey);
      if (charge) return { kind: 'charge', ...charge };
      const refund = refunded.get(idempotencyKey);
      return refund && { kind: 'refund', ...refund };
    },
    async charge({ idempotencyKey, amountCents }) {
      calls.push(idempotencyKey);
      if (!answers.has(idempotencyKey)) {
        answers.set(
          idempotencyKey,
          amountCents > declineAboveCents
            ? { status: 'declined', providerReference: `ch-${idempotencyKey}`, reason: 'amount exceeds the card limit' }
            : { status: 'succeeded', providerReference: `ch-${idempotencyKey}` },
        );
      }
      return answers.get(idempotencyKey)!;
    },
    async refund({ idempotencyKey }) {
      refunds.push(idempotencyKey);
      if (!refunded.has(idempotencyKey)) refunded.set(idempotencyKey, { status: 'succeeded', providerReference: `re-${idempotencyKey}` });
      return refunded.get(idempotencyKey)!;
    },
  };
}

const productId = '01935e00-0000-7000-8000-000000000001';
const aCheckout = (overrides: Partial<CartCheckedOut> = {}): CartCheckedOut => ({
  checkoutId: '01935e00-0000-7000-8000-00000000c001',
  orderId: '01935e00-0000-7000-8000-00000000a001',
  userId: 'u1',
  items: [{ productId, name: 'Beans', unitPrice: 12.5, quantity: 2 }],
  total: 25,
  occurredAt: '2026-11-25T10:00:00.000Z',
  ...overrides,
});
const trace = { traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01' };
/** The domain's own bounds; the memory store's lease clock moves only when a test moves it. */
const policy = { providerTimeoutMs: 1_000, leaseMs: 3_000 };

describe('placing an order from a checkout', () => {
  it('when stock suffices, then the order is PENDING, stock reserved and OrderCreated is in the outbox with the trace', async () => {
    const store = new MemoryOrderStore();
    store.stock.set(productId, 5);
    expect(await placeOrderFromCheckout(store, aCheckout(), trace)).toBe('created');
    expect((await store.get(aCheckout().orderId))?.status).toBe('PENDING');
    expect(store.stock.get(productId)).toBe(3);
    expect(store.outbox).toMatchObject([{ type: 'OrderCreated', payload: { orderId: aCheckout().orderId, userId: 'u1', total: 25 }, trace }]);
  });

  it('when the same checkout arrives twice, then the second is a no-op', async () => {
    const store = new MemoryOrderStore();
    store.stock.set(productId, 5);
    await placeOrderFromCheckout(store, aCheckout(), trace);
    expect(await placeOrderFromCheckout(store, aCheckout(), trace)).toBe('duplicate');
    expect(store.stock.get(productId)).toBe(3);
    expect(store.outbox).toHaveLength(1);
  });

  it('when stock is short, then the order is REJECTED with the reason, nothing reserved, nothing emitted', async () => {
    const store = new MemoryOrderStore();
    store.stock.set(productId, 1);
    expect(await placeOrderFromCheckout(store, aCheckout(), trace)).toBe('rejected');
    expect(await store.get(aCheckout().orderId)).toMatchObject({ status: 'REJECTED', reason: 'not enough stock for Beans' });
    expect(store.stock.get(productId)).toBe(1);
    expect(store.outbox).toEqual([]);
  });
});

describe('payments and their results', () => {
  async function pendingOrder(total = 25) {
    const store = new MemoryOrderStore();
    store.stock.set(productId, 10);
    await placeOrderFromCheckout(store, aCheckout({ items: [{ productId, name: 'Beans', unitPrice: total / 2, quantity: 2 }], total }), trace);
    store.outbox = [];
    return store;
  }
  const orderCreated = (total: number) => ({ orderId: aCheckout().orderId, userId: 'u1', total, occurredAt: new Date().toISOString() });
  let provider = countingProvider();
  beforeEach(() => {
    provider = countingProvider();
  });

  it('when the amount is within the limit, then the payment succeeds once and the provider is called once, even if OrderCreated comes twice', async () => {
    const store = await pendingOrder();
    expect(await processPayment(store, provider, orderCreated(25), trace, uuidv7(), policy)).toBe('succeeded');
    expect(await processPayment(store, provider, orderCreated(25), trace, uuidv7(), policy)).toBe('duplicate');
    expect(store.outbox.map((e) => e.type)).toEqual(['PaymentSucceeded']);
    expect(provider.calls).toEqual([store.payments.get(aCheckout().orderId)!.id]);
  });

  it('when OrderCreated comes twice at once, then the provider is called once: the second delivery finds the lease live, waits, and then finds the payment settled', async () => {
    const store = await pendingOrder();
    const outcomes = await Promise.allSettled([processPayment(store, provider, orderCreated(25), trace, uuidv7(), policy), processPayment(store, provider, orderCreated(25), trace, uuidv7(), policy)]);
    expect(outcomes.map((o) => (o.status === 'fulfilled' ? o.value : (o.reason as Error).name))).toEqual(['succeeded', 'PaymentLeaseHeld']);
    expect(await processPayment(store, provider, orderCreated(25), trace, uuidv7(), policy)).toBe('duplicate');
    expect(provider.calls).toHaveLength(1);
  });

  it('when the order is no longer PENDING (cancelled), then no payment is started and the provider is not called', async () => {
    const store = await pendingOrder();
    store.orders.get(aCheckout().orderId)!.status = 'CANCELLED';
    expect(await processPayment(store, provider, orderCreated(25), trace, uuidv7(), policy)).toBe('order_not_pending');
    expect(provider.calls).toEqual([]);
    expect(store.payments.size).toBe(0);
  });

  it('when the provider call fails, then the payment stays PENDING under its lease: another delivery waits until the lease expires, then takes it over and charges with the same key, once', async () => {
    const store = await pendingOrder();
    const first = uuidv7();
    const failing: PaymentProvider = { charge: async () => Promise.reject(new Error('provider timed out')), lookup: async () => undefined, refund: noRefund };
    await expect(processPayment(store, failing, orderCreated(25), trace, first, policy)).rejects.toThrow('provider timed out');
    expect(store.payments.get(aCheckout().orderId)?.status).toBe('PENDING');
    const second = uuidv7();
    store.clockMs += policy.leaseMs - 1;
    await expect(processPayment(store, provider, orderCreated(25), trace, second, policy)).rejects.toBeInstanceOf(PaymentLeaseHeld);
    expect(provider.calls).toEqual([]);
    store.clockMs += 1;
    expect(await processPayment(store, provider, orderCreated(25), trace, second, policy)).toBe('succeeded');
    expect(provider.calls).toEqual([first]);
    expect(store.leases.get(first)?.holder).toBe(second);
  });

  it('when the provider call fails and the same delivery retries, then it too waits for its lease to expire, and then charges once with its own key', async () => {
    const store = await pendingOrder();
    const attempt = uuidv7();
    const failing: PaymentProvider = { charge: async () => Promise.reject(new Error('connection terminated')), lookup: async () => undefined, refund: noRefund };
    await expect(processPayment(store, failing, orderCreated(25), trace, attempt, policy)).rejects.toThrow('connection terminated');
    await expect(processPayment(store, provider, orderCreated(25), trace, attempt, policy)).rejects.toBeInstanceOf(PaymentLeaseHeld);
    store.clockMs += policy.leaseMs;
    expect(await processPayment(store, provider, orderCreated(25), trace, attempt, policy)).toBe('succeeded');
    expect(provider.calls).toEqual([attempt]);
    expect(store.payments.get(aCheckout().orderId)).toMatchObject({ id: attempt, status: 'SUCCEEDED' });
    expect(store.outbox.map((e) => e.type)).toEqual(['PaymentSucceeded']);
  });

  it('when the provider charged but its answer was lost, then whoever takes over after the lease settles from its record without a second call', async () => {
    const store = await pendingOrder();
    const attempt = uuidv7();
    const answerLost: PaymentProvider = { ...provider, charge: async (request, deadline) => provider.charge(request, deadline).then(() => Promise.reject(new Error('socket hang up'))) };
    await expect(processPayment(store, answerLost, orderCreated(25), trace, attempt, policy)).rejects.toThrow('socket hang up');
    store.clockMs += policy.leaseMs;
    expect(await processPayment(store, provider, orderCreated(25), trace, uuidv7(), policy)).toBe('succeeded');
    expect(provider.calls).toEqual([attempt]);
    expect(await processPayment(store, provider, orderCreated(25), trace, attempt, policy)).toBe('duplicate');
    expect(store.outbox.map((e) => e.type)).toEqual(['PaymentSucceeded']);
  });

  it('when two deliveries find the same expired lease, then one takes the payment over and the other waits: one call', async () => {
    const store = await pendingOrder();
    const failing: PaymentProvider = { charge: async () => Promise.reject(new Error('connection terminated')), lookup: async () => undefined, refund: noRefund };
    await expect(processPayment(store, failing, orderCreated(25), trace, uuidv7(), policy)).rejects.toThrow('connection terminated');
    store.clockMs += policy.leaseMs;
    const outcomes = await Promise.allSettled([processPayment(store, provider, orderCreated(25), trace, uuidv7(), policy), processPayment(store, provider, orderCreated(25), trace, uuidv7(), policy)]);
    expect(outcomes.map((o) => (o.status === 'fulfilled' ? o.value : (o.reason as Error).name))).toEqual(['succeeded', 'PaymentLeaseHeld']);
    expect(provider.calls).toHaveLength(1);
  });

  it('when the provider answers pending, then the payment stays PENDING with no event; once its lease expires a takeover settles it from the provider by key, with no second charge', async () => {
    const store = await pendingOrder();
    const attempt = uuidv7();
    const undecided: PaymentProvider = { ...provider, charge: async (request, deadline) => (await provider.charge(request, deadline), { status: 'pending', providerReference: 'ref-pending' }) };
    expect(await processPayment(store, undecided, orderCreated(25), trace, attempt, policy)).toBe('pending');
    expect(store.payments.get(aCheckout().orderId)?.status).toBe('PENDING');
    expect(store.outbox).toEqual([]);
    store.clockMs += policy.leaseMs;
    expect(await processPayment(store, provider, orderCreated(25), trace, uuidv7(), policy)).toBe('succeeded');
    expect(provider.calls).toEqual([attempt]);
    expect(store.outbox.map((e) => e.type)).toEqual(['PaymentSucceeded']);
  });

  it('when the amount is above the limit, then the payment fails with the documented reason', async () => {
    const store = await pendingOrder(200);
    expect(await processPayment(store, provider, orderCreated(200), trace, uuidv7(), policy)).toBe('failed');
    expect(store.outbox[0]).toMatchObject({ type: 'PaymentFailed', payload: { reason: 'amount exceeds the card limit' } });
  });

  it('when PaymentSucceeded arrives, then PENDING becomes PAID; a late PaymentFailed changes nothing', async () => {
    const store = await pendingOrder();
    const event = { orderId: aCheckout().orderId, paymentId: '01935e00-0000-7000-8000-00000000b001', occurredAt: new Date().toISOString() };
    expect((await applyPaymentResult(store, 'PaymentSucceeded', event))?.status).toBe('PAID');
    expect(await applyPaymentResult(store, 'PaymentFailed', event)).toBeUndefined();
    expect((await store.get(event.orderId))?.status).toBe('PAID');
    expect(store.stock.get(productId)).toBe(8);
  });

  it('when PaymentFailed arrives, then the order is PAYMENT_FAILED and stock comes back exactly once', async () => {
    const store = await pendingOrder();
    const event = { orderId: aCheckout().orderId, paymentId: '01935e00-0000-7000-8000-00000000b001', reason: 'declined', occurredAt: new Date().toISOString() };
    expect((await applyPaymentResult(store, 'PaymentFailed', event))?.status).toBe('PAYMENT_FAILED');
    expect(await applyPaymentResult(store, 'PaymentFailed', event)).toBeUndefined();
    expect(store.stock.get(productId)).toBe(10);
  });
});

describe('the order lifecycle table', () => {
  it('when the table is read, then only PENDING and PAID orders can be cancelled and no status goes back to PENDING', () => {
    expect(cancellableStatuses).toEqual(['PENDING', 'PAID']);
    for (const from of orderStatuses) expect(orderTransition(from, 'PENDING')).toBeUndefined();
  });

  it('when a transition the table does not name is asked for, then it is refused and nothing changes', async () => {
    const store = new MemoryOrderStore();
    store.stock.set(productId, 5);
    await placeOrderFromCheckout(store, aCheckout(), trace);
    await store.transaction(async (uow) => moveOrder(uow, aCheckout().orderId, 'PENDING', 'REJECTED'));
    await expect(store.transaction(async (uow) => moveOrder(uow, aCheckout().orderId, 'REJECTED', 'PAID'))).rejects.toThrow('cannot go from REJECTED to PAID');
    expect((await store.get(aCheckout().orderId))?.status).toBe('REJECTED');
  });

  it('when an order becomes PAID, then OrderPaid is in the outbox with its user and total, in the same transaction', async () => {
    const store = new MemoryOrderStore();
    store.stock.set(productId, 5);
    await placeOrderFromCheckout(store, aCheckout(), trace);
    store.outbox = [];
    await applyPaymentResult(store, 'PaymentSucceeded', { orderId: aCheckout().orderId, paymentId: uuidv7(), occurredAt: new Date().toISOString() }, trace);
    expect(store.outbox).toMatchObject([{ type: 'OrderPaid', payload: { orderId: aCheckout().orderId, userId: 'u1', total: 25 }, trace }]);
  });

  it('when a PAID order is cancelled, then its stock comes back once and OrderCancelled says why; a second move finds it moved', async () => {
    const store = new MemoryOrderStore();
    store.stock.set(productId, 5);
    await placeOrderFromCheckout(store, aCheckout(), trace);
    await applyPaymentResult(store, 'PaymentSucceeded', { orderId: aCheckout().orderId, paymentId: uuidv7(), occurredAt: new Date().toISOString() });
    store.outbox = [];
    const cancel = () => store.transaction((uow) => moveOrder(uow, aCheckout().orderId, 'PAID', 'CANCELLED', { cancelReason: 'customer', refunded: true }));
    expect(await cancel()).toBeDefined();
    expect(await cancel()).toBeUndefined();
    expect(store.stock.get(productId)).toBe(5);
    expect(await store.get(aCheckout().orderId)).toMatchObject({ status: 'CANCELLED', cancelReason: 'customer' });
    expect(store.outbox).toMatchObject([{ type: 'OrderCancelled', payload: { orderId: aCheckout().orderId, userId: 'u1', reason: 'customer', refunded: true } }]);
  });
});

describe('reading orders', () => {
  it("when another user asks for an order, then 404; with Orders.Read.All it is returned", async () => {
    const store = new MemoryOrderStore();
    store.stock.set(productId, 5);
    await placeOrderFromCheckout(store, aCheckout(), trace);
    const queries = orderQueries(store);
    await expect(queries.get(aCheckout().orderId, { userId: 'someone', canReadAll: false })).rejects.toMatchObject({ status: 404 });
    await expect(queries.get(aCheckout().orderId, { userId: 'someone', canReadAll: true })).resolves.toMatchObject({ status: 'PENDING', total: 25 });
    await expect(queries.get('not-a-uuid', { userId: 'u1', canReadAll: false })).rejects.toMatchObject({ status: 404 });
  });

  it('when listing with a cursor, then pages walk newest first without repeats', async () => {
    const store = new MemoryOrderStore();
    store.stock.set(productId, 100);
    for (let i = 1; i <= 5; i++) await placeOrderFromCheckout(store, aCheckout({ orderId: `01935e00-0000-7000-8000-00000000a00${i}`, checkoutId: `01935e00-0000-7000-8000-00000000c00${i}` }), trace);
    const queries = orderQueries(store);
    const first = await queries.list('u1', 2, undefined);
    const second = await queries.list('u1', 2, first.nextCursor!);
    const third = await queries.list('u1', 2, second.nextCursor!);
    expect([...first.items, ...second.items, ...third.items].map((o) => o.id.slice(-1))).toEqual(['5', '4', '3', '2', '1']);
    expect(third.nextCursor).toBeNull();
    await expect(queries.list('u1', 2, 'garbage')).rejects.toMatchObject({ status: 400 });
  });
});

describe('resolving stranded checkouts and orders', () => {
  const bounds = { redriveAfterSeconds: 120, cancelAfterSeconds: 1800 };
  const payments = policy;
  const queries = (checkouts: { event: CartCheckedOut; ageSeconds: number }[], pending: PendingOrder[], outboxBehind = false): StrandedQueries => ({
    checkoutsWithoutOrder: async () => checkouts,
    pendingOrders: async () => pending,
    outboxBehind: async () => outboxBehind,
    refundsInFlight: async () => [],
  });
  const placed = async () => {
    const store = new MemoryOrderStore();
    store.stock.set(productId, 10);
    await placeOrderFromCheckout(store, aCheckout(), trace);
    store.outbox = [];
    return store;
  };
  const pendingOf = (ageSeconds: number, payment?: PendingOrder['payment']): PendingOrder => ({ orderId: aCheckout().orderId, userId: 'u1', totalCents: 2500, ageSeconds, ...(payment ? { payment } : {}) });

  it('when a checkout has no order within the redrive bound, then its CartCheckedOut is published again; past the cancel bound its order is CANCELLED', async () => {
    const store = new MemoryOrderStore();
    const provider = countingProvider();
    expect(await resolveStrandedOrders({ orders: store, stranded: queries([{ event: aCheckout(), ageSeconds: 300 }], []), provider, bounds, payments })).toMatchObject({ redriven: 1 });
    expect(store.outbox).toMatchObject([{ type: 'CartCheckedOut', payload: aCheckout() }]);
    expect(store.redriven.has(aCheckout().orderId)).toBe(true);
    expect(await resolveStrandedOrders({ orders: store, stranded: queries([{ event: aCheckout(), ageSeconds: 2000 }], []), provider, bounds, payments })).toMatchObject({ cancelled: 1 });
    expect(await store.get(aCheckout().orderId)).toMatchObject({ status: 'CANCELLED', reason: 'not completed within 1800 s of checkout', cancelReason: 'timeout' });
    expect(store.outbox.at(-1)).toMatchObject({ type: 'OrderCancelled', payload: { orderId: aCheckout().orderId, reason: 'timeout', refunded: false } });
  });

  it('when a PENDING order has no payment, then OrderCreated is published again; past the cancel bound it is CANCELLED and its stock returned', async () => {
    const store = await placed();
    const provider = countingProvider();
    expect(await resolveStrandedOrders({ orders: store, stranded: queries([], [pendingOf(300)]), provider, bounds, payments })).toMatchObject({ redriven: 1 });
    expect(store.outbox).toMatchObject([{ type: 'OrderCreated', payload: { orderId: aCheckout().orderId, total: 25 } }]);
    expect(store.stock.get(productId)).toBe(8);
    expect(await resolveStrandedOrders({ orders: store, stranded: queries([], [pendingOf(2000)]), provider, bounds, payments })).toMatchObject({ cancelled: 1 });
    expect((await store.get(aCheckout().orderId))?.status).toBe('CANCELLED');
    expect(store.stock.get(productId)).toBe(10);
    expect(provider.calls).toEqual([]);
  });

  it('when a payment started meanwhile, then the order is not cancelled', async () => {
    const store = await placed();
    // The provider call never returns: the payment row is written and stays PENDING.
    void processPayment(store, { charge: () => new Promise(() => {}), lookup: async () => undefined, refund: noRefund }, { orderId: aCheckout().orderId, userId: 'u1', total: 25, occurredAt: new Date().toISOString() }, trace, uuidv7(), policy);
    await new Promise((resolve) => setTimeout(resolve, 10));
    expect(store.payments.get(aCheckout().orderId)?.status).toBe('PENDING');
    expect(await resolveStrandedOrders({ orders: store, stranded: queries([], [pendingOf(2000)]), provider: countingProvider(), bounds, payments })).toMatchObject({ cancelled: 0 });
    expect((await store.get(aCheckout().orderId))?.status).toBe('PENDING');
  });

  it('when the payment result never reached the order, then it is applied; a payment left PENDING is settled with its own key', async () => {
    const store = await placed();
    const provider = countingProvider();
    expect(
      await resolveStrandedOrders({ orders: store, stranded: queries([], [pendingOf(300, { id: 'p1', status: 'SUCCEEDED', reason: null, amountCents: 2500 })]), provider, bounds, payments }),
    ).toMatchObject({ payment_applied: 1 });
    expect((await store.get(aCheckout().orderId))?.status).toBe('PAID');

    // Interrupted before the provider saw it: charged now, once.
    const other = await placed();
    other.payments.set(aCheckout().orderId, { id: 'p2', orderId: aCheckout().orderId, status: 'PENDING', amountCents: 2500, reason: null, createdAt: new Date() });
    expect(
      await resolveStrandedOrders({ orders: other, stranded: queries([], [pendingOf(300, { id: 'p2', status: 'PENDING', reason: null, amountCents: 2500 })]), provider, bounds, payments }),
    ).toMatchObject({ payment_settled: 1 });
    expect(provider.calls).toEqual(['p2']);
    expect(other.outbox).toMatchObject([{ type: 'PaymentSucceeded', payload: { paymentId: 'p2' } }]);

    // Interrupted after the provider declined it: its recorded answer is used, no second call.
    const third = await placed();
    third.payments.set(aCheckout().orderId, { id: 'p3', orderId: aCheckout().orderId, status: 'PENDING', amountCents: 2500, reason: null, createdAt: new Date() });
    provider.answers.set('p3', { status: 'declined', providerReference: 'ref-p3', reason: 'card declined' });
    await resolveStrandedOrders({ orders: third, stranded: queries([], [pendingOf(300, { id: 'p3', status: 'PENDING', reason: null, amountCents: 2500 })]), provider, bounds, payments });
    expect(provider.calls).toEqual(['p2']);
    expect(third.outbox).toMatchObject([{ type: 'PaymentFailed', payload: { paymentId: 'p3', reason: 'card declined' } }]);
  });

  it('when the outbox is behind (the broker is down), then nothing is published again, but what is too old is still cancelled', async () => {
    const store = await placed();
    const provider = countingProvider();
    const other = { ...aCheckout(), orderId: '01935e00-0000-7000-8000-00000000a0ff', checkoutId: '01935e00-0000-7000-8000-00000000c0ff' };
    const done = await resolveStrandedOrders({ orders: store, stranded: queries([{ event: other, ageSeconds: 300 }], [pendingOf(300)], true), provider, bounds, payments });
    expect(done).toMatchObject({ redriven: 0, cancelled: 0 });
    expect(store.outbox).toEqual([]);
    expect(await resolveStrandedOrders({ orders: store, stranded: queries([{ event: other, ageSeconds: 2000 }], [], true), provider, bounds, payments })).toMatchObject({ cancelled: 1 });
  });

  it('when a PENDING payment is still leased (its call may be live), then the resolver leaves it alone; once the lease expires it takes it over', async () => {
    const store = await placed();
    store.payments.set(aCheckout().orderId, { id: 'p4', orderId: aCheckout().orderId, status: 'PENDING', amountCents: 2500, reason: null, createdAt: new Date() });
    store.leases.set('p4', { holder: 'p4', expiresAt: store.clockMs + 1 });
    const provider = countingProvider();
    const stranded = queries([], [pendingOf(300, { id: 'p4', status: 'PENDING', reason: null, amountCents: 2500 })]);
    expect(await resolveStrandedOrders({ orders: store, stranded, provider, bounds, payments })).toMatchObject({ payment_settled: 0, failed: 0 });
    expect(provider.calls).toEqual([]);
    expect(store.payments.get(aCheckout().orderId)?.status).toBe('PENDING');
    store.clockMs += 1;
    expect(await resolveStrandedOrders({ orders: store, stranded, provider, bounds, payments })).toMatchObject({ payment_settled: 1 });
    expect(provider.calls).toEqual(['p4']);
  });

  it('when one item fails, then it is counted and the items after it are still resolved', async () => {
    const store = await placed();
    store.payments.set(aCheckout().orderId, { id: 'p5', orderId: aCheckout().orderId, status: 'PENDING', amountCents: 2500, reason: null, createdAt: new Date() });
    const failing: PaymentProvider = { charge: async () => Promise.reject(new Error('provider down')), lookup: async () => Promise.reject(new Error('provider down')), refund: noRefund };
    const other = { ...aCheckout(), orderId: '01935e00-0000-7000-8000-00000000a0fe', checkoutId: '01935e00-0000-7000-8000-00000000c0fe' };
    const failures: string[] = [];
    const done = await resolveStrandedOrders({
      orders: store,
      stranded: queries([{ event: other, ageSeconds: 300 }], [pendingOf(300, { id: 'p5', status: 'PENDING', reason: null, amountCents: 2500 }), { ...pendingOf(300), orderId: other.orderId }]),
      provider: failing,
      bounds,
      payments,
      onItemFailure: (orderId) => failures.push(orderId),
    });
    expect(done).toMatchObject({ failed: 1, redriven: 2 });
    expect(failures).toEqual([aCheckout().orderId]);
  });
});
