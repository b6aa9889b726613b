import type { OrderCreated, TraceContext } from './events.js';
import { uuidv7 } from './ids.js';
import { centsFromNumber, type Cents } from './money.js';
import { paymentTransitions } from './orderLifecycle.js';
import type { OrderStore, OrderUnitOfWork } from './orders.js';

export interface ChargeResult {
  approved: boolean;
  reason?: string;
}

export interface ChargeRequest {
  /** The payment's id: a provider given the same key twice charges once and answers the first result again. */
  idempotencyKey: string;
  orderId: string;
  userId: string;
  amountCents: Cents;
}

/** A payment service provider; `charge` is idempotent per `idempotencyKey`, as real PSPs are. */
export interface PaymentProvider {
  charge(request: ChargeRequest): Promise<ChargeResult>;
  /** The result of an earlier charge with this key; undefined when the provider never received one. */
  lookup(idempotencyKey: string): Promise<ChargeResult | undefined>;
}

export type PaymentHandling = 'succeeded' | 'failed' | 'duplicate' | 'order_not_pending' | 'unknown_to_provider';

/**
 * Finishes a payment whose row is PENDING: charges through the provider (the payment id is the
 * idempotency key) and records the result with its Payment* event in one transaction.
 *
 * `resume` is for a payment a failure interrupted around the provider call: under the payment's row
 * lock (whoever else is resuming it holds the lock, and this one leaves it to them), the provider is
 * asked what became of the key, and charged only if it never saw it and `chargeIfUnknown` says no
 * call for it can still be in flight. The lock spans the provider call, which a resume makes rarely.
 */
export async function settlePayment(
  store: OrderStore,
  provider: PaymentProvider,
  payment: { id: string; orderId: string; userId: string; amountCents: Cents },
  trace: TraceContext,
  options: { resume?: boolean; chargeIfUnknown?: boolean } = {},
): Promise<PaymentHandling> {
  const charge = () => provider.charge({ idempotencyKey: payment.id, orderId: payment.orderId, userId: payment.userId, amountCents: payment.amountCents });
  if (!options.resume) {
    const result = await charge();
    return store.transaction((uow) => recordResult(uow, payment, result, trace));
  }
  return store.transaction(async (uow) => {
    if (!(await uow.lockPendingPayment(payment.id))) return 'duplicate';
    const known = await provider.lookup(payment.id);
    if (!known && !options.chargeIfUnknown) return 'unknown_to_provider';
    return recordResult(uow, payment, known ?? (await charge()), trace);
  });
}

async function recordResult(uow: OrderUnitOfWork, payment: { id: string; orderId: string }, result: ChargeResult, trace: TraceContext): Promise<PaymentHandling> {
  const status = result.approved ? 'SUCCEEDED' : 'FAILED';
  const settled = await uow.settlePayment(payment.id, status, result.reason ?? null);
  if (!settled) return 'duplicate';
  await uow.addToOutbox({
    id: uuidv7(),
    type: paymentTransitions.PENDING[status].emits,
    payload: { orderId: payment.orderId, paymentId: payment.id, ...(result.reason ? { reason: result.reason } : {}), occurredAt: new Date().toISOString() },
    trace,
  });
  return result.approved ? 'succeeded' : 'failed';
}

/**
 * payments function, on OrderCreated: charge once per order. The payment row is written (PENDING,
 * unique per order) and committed before the provider is called, under the order's row lock, so
 * another OrderCreated, at once or later, finds it and never calls the provider; an order no longer
 * PENDING (cancelled) is never charged.
 *
 * `attemptId` names the payment this attempt would start, and must stay the same while the caller
 * retries one delivery after a dependency failed: a retry that finds its own payment PENDING resumes
 * it (the provider's record first, a charge with the same key only if the provider never saw it):
 * its own call has ended, and the resolver, the only other resumer, is kept out by the payment's row
 * lock. Left alone, a dropped connection between
 * starting and settling would leave the order PENDING until the resolver's idle bound.
 */
export async function processPayment(
  store: OrderStore,
  provider: PaymentProvider,
  event: OrderCreated,
  trace: TraceContext,
  attemptId: string,
): Promise<PaymentHandling> {
  const payment = { id: attemptId, orderId: event.orderId, userId: event.userId, amountCents: centsFromNumber(event.total)! };
  const started = await store.transaction(async (uow) => {
    if ((await uow.lockOrder(event.orderId)) !== 'PENDING') return 'order_not_pending' as const;
    if (await uow.insertPayment({ id: payment.id, orderId: payment.orderId, status: 'PENDING', amountCents: payment.amountCents, reason: null })) return 'started' as const;
    const existing = await uow.paymentOf(event.orderId);
    return existing?.id === attemptId && existing.status === 'PENDING' ? ('resumed' as const) : ('duplicate' as const);
  });
  if (started === 'order_not_pending' || started === 'duplicate') return started;
  return settlePayment(store, provider, payment, trace, started === 'resumed' ? { resume: true, chargeIfUnknown: true } : {});
}
