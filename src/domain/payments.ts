import type { OrderCreated, TraceContext } from './events.js';
import { uuidv7 } from './ids.js';
import { centsFromNumber, type Cents } from './money.js';
import { paymentTransitions } from './orderLifecycle.js';
import type { OrderStore } from './orders.js';

/**
 * A provider's answer to a charge, or what it recorded for a key: `succeeded` (money taken),
 * `declined` (with its reason; nothing taken), or `pending` (it has not decided yet: asked again by
 * key later). `providerReference` is the provider's own id of the transaction.
 */
export type ChargeOutcome =
  | { status: 'succeeded'; providerReference: string }
  | { status: 'declined'; providerReference: string; reason: string }
  | { status: 'pending'; providerReference: string };

/** A provider's answer to a refund: `failed` is final (it will not refund this charge, with why). */
export type RefundOutcome =
  | { status: 'succeeded'; providerReference: string }
  | { status: 'pending'; providerReference: string }
  | { status: 'failed'; reason: string };

/** What a provider recorded under an idempotency key. */
export type ProviderRecord = ({ kind: 'charge' } & ChargeOutcome) | ({ kind: 'refund' } & RefundOutcome);

export interface RefundRequest {
  /** The refund's own key: the same key twice refunds once (the provider counts the second call). */
  idempotencyKey: string;
  /** The idempotency key of the charge to refund. */
  chargeKey: string;
  orderId: string;
  amountCents: Cents;
}

export interface ChargeRequest {
  /** The payment's id: a provider given the same key twice charges once and answers the first result again. */
  idempotencyKey: string;
  orderId: string;
  userId: string;
  amountCents: Cents;
}

/**
 * A payment service provider, shaped like a real one: `charge` and `refund` are idempotent per
 * `idempotencyKey` (a repeated key answers the first outcome, and the provider sees the repeat), and
 * `lookup` reads what it recorded under a key. Every call ends by `deadline`: once it fires the adapter
 * gives up on the call and rejects, and the outcome is unknown (the provider may have recorded it).
 */
export interface PaymentProvider {
  charge(request: ChargeRequest, deadline: AbortSignal): Promise<ChargeOutcome>;
  refund(request: RefundRequest, deadline: AbortSignal): Promise<RefundOutcome>;
  /** What the provider recorded under this key; undefined when it never received it. */
  lookup(idempotencyKey: string, deadline: AbortSignal): Promise<ProviderRecord | undefined>;
}

/**
 * How long a provider call may last, and how long a PENDING payment stays leased to the attempt
 * calling the provider for it. The lease outlasts the deadline (src/config.ts refuses settings where
 * it does not by at least 2 s), so once a lease has expired no call made under it can still be live.
 */
export interface PaymentPolicy {
  providerTimeoutMs: number;
  leaseMs: number;
}

/**
 * The order's payment is leased to another attempt whose provider call may still be live. Transient:
 * the delivery retries, and takes the payment over once the lease has expired, unless its holder
 * settled it meanwhile.
 */
export class PaymentLeaseHeld extends Error {
  override name = 'PaymentLeaseHeld';
  constructor(readonly orderId: string) {
    super(`the payment of order ${orderId} is leased to another attempt whose provider call may still be live`);
  }
}

export type PaymentHandling = 'succeeded' | 'failed' | 'pending' | 'duplicate' | 'order_not_pending';

interface PaymentToSettle {
  id: string;
  orderId: string;
  userId: string;
  amountCents: Cents;
}

/**
 * payments function, on OrderCreated: charge once per order, with at most one live provider call.
 *
 * The payment row is written PENDING (unique per order) and committed, under the order's row lock,
 * before the provider is called, leased to this attempt until just past the call's deadline. Another
 * delivery (a duplicate, the broker's redelivery after a crash, the resolver's re-drive) finds it:
 * - settled: nothing to do;
 * - leased, and the lease still live: `PaymentLeaseHeld`, so the delivery waits and tries again;
 * - lease expired (its holder died, or its call timed out): it takes the lease over, asks the provider
 *   what became of the key, and charges with the same key only if the provider never saw it.
 * An order no longer PENDING (cancelled) is never charged.
 *
 * `attemptId` stays the same while one delivery is retried after a dependency failed (it is the
 * payment's id when this attempt starts the payment, and the lease holder's otherwise).
 */
export async function processPayment(
  store: OrderStore,
  provider: PaymentProvider,
  event: OrderCreated,
  trace: TraceContext,
  attemptId: string,
  policy: PaymentPolicy,
): Promise<PaymentHandling> {
  // Started before the lease is taken, so the calls it bounds end before the lease (counted from later) expires.
  const deadline = AbortSignal.timeout(policy.providerTimeoutMs);
  const amountCents = centsFromNumber(event.total)!;
  const held = await store.startPayment({ id: attemptId, orderId: event.orderId, amountCents, leaseMs: policy.leaseMs }, async (started, uow) => {
    if (started === 'order_not_pending') return started;
    if (started === 'started') return { payment: { id: attemptId, orderId: event.orderId, userId: event.userId, amountCents }, takenOver: false };
    const existing = await uow.paymentOf(event.orderId);
    if (existing?.status !== 'PENDING') return 'duplicate' as const;
    if (!(await uow.takeOverPayment(existing.id, attemptId, policy.leaseMs))) return 'lease_held' as const;
    return { payment: { id: existing.id, orderId: event.orderId, userId: event.userId, amountCents: existing.amountCents }, takenOver: true };
  });
  if (held === 'lease_held') throw new PaymentLeaseHeld(event.orderId);
  if (held === 'order_not_pending' || held === 'duplicate') return held;
  return settleLeased(store, provider, held.payment, trace, deadline, held.takenOver);
}

/**
 * The resolver's way into a PENDING payment nobody is finishing: it takes the lease over when it has
 * expired and settles the payment as a delivery would (the provider's record first, a charge with
 * the same key only if the provider never saw it). Undefined when the lease is live or the payment
 * already settled: someone else has it.
 */
export async function takeOverPayment(
  store: OrderStore,
  provider: PaymentProvider,
  payment: PaymentToSettle,
  trace: TraceContext,
  policy: PaymentPolicy,
): Promise<PaymentHandling | undefined> {
  const deadline = AbortSignal.timeout(policy.providerTimeoutMs);
  if (!(await store.transaction((uow) => uow.takeOverPayment(payment.id, uuidv7(), policy.leaseMs), 'payments'))) return undefined;
  return settleLeased(store, provider, payment, trace, deadline, true);
}

/**
 * Calls the provider under a lease this attempt holds, and records the answer with its Payment*
 * event in one transaction. After a takeover the provider is asked first: the earlier holder's call
 * may have reached it. A call that fails or passes `deadline` rejects, leaving the payment PENDING
 * under this lease; whoever takes it over after the lease expires settles it from the provider's
 * record, so a lost answer never becomes a blind second charge.
 */
async function settleLeased(store: OrderStore, provider: PaymentProvider, payment: PaymentToSettle, trace: TraceContext, deadline: AbortSignal, takenOver: boolean): Promise<PaymentHandling> {
  const known = takenOver ? await provider.lookup(payment.id, deadline) : undefined;
  const outcome = known?.kind === 'charge' ? known : await provider.charge({ idempotencyKey: payment.id, orderId: payment.orderId, userId: payment.userId, amountCents: payment.amountCents }, deadline);
  // Not decided yet: the payment stays PENDING, and once this lease expires the resolver asks the provider again by key.
  if (outcome.status === 'pending') return 'pending';
  return recordResult(store, payment, outcome, trace);
}

function recordResult(store: OrderStore, payment: { id: string; orderId: string }, outcome: Exclude<ChargeOutcome, { status: 'pending' }>, trace: TraceContext): Promise<PaymentHandling> {
  const status = outcome.status === 'succeeded' ? 'SUCCEEDED' : 'FAILED';
  const reason = outcome.status === 'declined' ? outcome.reason : null;
  return store.settlePayment({ paymentId: payment.id, status, reason, providerReference: outcome.providerReference }, async (settled, uow) => {
    if (!settled) return 'duplicate';
    await uow.addToOutbox({
      id: uuidv7(),
      type: paymentTransitions.PENDING[status].emits,
      payload: { orderId: payment.orderId, paymentId: payment.id, ...(reason ? { reason } : {}), occurredAt: new Date().toISOString() },
      trace,
    });
    return status === 'SUCCEEDED' ? 'succeeded' : 'failed';
  });
}

export type RefundHandling = 'refunded' | 'pending' | 'refund_failed' | 'not_refunding';

/**
 * Finishes the refund of a REFUNDING payment (its order was cancelled in the transaction that made
 * it REFUNDING and chose the refund's key): under the payment's lease, so one caller at a time
 * talks to the provider; the provider's record of the refund key first, a refund with that key
 * only if it never saw it. The cancel route calls it right after its commit, the orders function
 * after a late payment result, and the resolver for any whose lease expired (a crash, a timeout):
 * the refund happens once, whoever finishes it. `not_refunding` when it is done or leased to another.
 */
export async function finishRefund(store: OrderStore, provider: PaymentProvider, paymentId: string, policy: PaymentPolicy): Promise<RefundHandling> {
  const deadline = AbortSignal.timeout(policy.providerTimeoutMs);
  const refund = await store.transaction((uow) => uow.leaseRefund(paymentId, uuidv7(), policy.leaseMs), 'payments');
  if (!refund) return 'not_refunding';
  const known = await provider.lookup(refund.refundId, deadline);
  const outcome =
    known?.kind === 'refund'
      ? known
      : await provider.refund({ idempotencyKey: refund.refundId, chargeKey: paymentId, orderId: refund.orderId, amountCents: refund.amountCents }, deadline);
  // Pending: asked again by key once the lease expires. Failed: left REFUNDING for an operator, loudly.
  if (outcome.status === 'pending') return 'pending';
  if (outcome.status === 'failed') throw new Error(`the provider refused to refund payment ${paymentId}: ${outcome.reason}`);
  const done = await store.transaction((uow) => uow.completeRefund(paymentId, outcome.providerReference), 'payments');
  return done ? 'refunded' : 'not_refunding';
}
