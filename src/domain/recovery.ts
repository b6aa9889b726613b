import type { CartCheckedOut, TraceContext } from './events.js';
import { uuidv7 } from './ids.js';
import { numberFromCents, type Cents } from './money.js';
import { applyPaymentResult, enterOrder, moveOrder, orderOfCheckout, type OrderStore } from './orders.js';
import { finishRefund, takeOverPayment, type PaymentPolicy, type PaymentProvider } from './payments.js';

/** An accepted checkout whose order row does not exist yet. */
export interface CheckoutWithoutOrder {
  event: CartCheckedOut;
  ageSeconds: number;
}

/** A PENDING order untouched for a while, or whose PENDING payment's lease has expired, with its payment if one was started. */
export interface PendingOrder {
  orderId: string;
  userId: string;
  totalCents: Cents;
  ageSeconds: number;
  payment?: { id: string; status: 'PENDING' | 'SUCCEEDED' | 'FAILED'; reason: string | null; amountCents: Cents };
}

/**
 * Finds the work the resolver may have to do; each list holds only what was untouched for
 * `idleSeconds`, but for PENDING payments whose lease has expired, which are listed at once.
 */
export interface StrandedQueries {
  checkoutsWithoutOrder(idleSeconds: number, limit: number): Promise<CheckoutWithoutOrder[]>;
  pendingOrders(idleSeconds: number, limit: number): Promise<PendingOrder[]>;
  /** True while outbox rows past their relay window are unsent: events are still on their way (the broker is down or slow). */
  outboxBehind(): Promise<boolean>;
  /** REFUNDING payments whose lease is free and which nobody touched for a few seconds: refunds a crash or a timeout interrupted. */
  refundsInFlight(limit: number): Promise<string[]>;
}

export interface RecoveryBounds {
  /** An order or checkout idle this long is driven again (its event published anew, or its payment settled). */
  redriveAfterSeconds: number;
  /** One still not done this long after checkout is CANCELLED with the reason, and its stock returned. */
  cancelAfterSeconds: number;
}

export type RecoveryAction = 'redriven' | 'cancelled' | 'payment_applied' | 'payment_settled' | 'refund_finished' | 'failed';

const noTrace: TraceContext = {};

/**
 * The stranded-order resolver (a timer): no accepted checkout stays without a final state, whatever
 * was dead-lettered or lost. A checkout without its order, or an order without its payment, is
 * published again (the consumers are idempotent) and, past the cancel bound, CANCELLED; a payment the
 * provider answered whose result never reached the order is applied; a payment left PENDING by a crash
 * around the provider call is taken over once its lease has expired and settled from the provider's
 * record (charged with the same idempotency key only if the provider never saw it); a refund a crash
 * or a timeout interrupted is finished from the provider's record of its key. Returns what it did,
 * for the metric and the log.
 */
export async function resolveStrandedOrders(
  deps: {
    orders: OrderStore;
    stranded: StrandedQueries;
    provider: PaymentProvider;
    bounds: RecoveryBounds;
    payments: PaymentPolicy;
    batchSize?: number;
    /** Told about an item that failed; the others go on, so one bad row cannot hold up the rest. */
    onItemFailure?: (orderId: string, error: unknown) => void;
  },
): Promise<Record<RecoveryAction, number>> {
  const { orders, bounds } = deps;
  const done: Record<RecoveryAction, number> = { redriven: 0, cancelled: 0, payment_applied: 0, payment_settled: 0, refund_finished: 0, failed: 0 };
  /** Runs one item's work and counts what it did; a failure is counted and reported, and the rest go on. */
  const isolated = async (orderId: string, work: () => Promise<RecoveryAction | undefined>) => {
    try {
      const action = await work();
      if (action) done[action]++;
    } catch (error) {
      done.failed++;
      deps.onItemFailure?.(orderId, error);
    }
  };
  const limit = deps.batchSize ?? 200;
  const tooOld = (ageSeconds: number) => ageSeconds >= bounds.cancelAfterSeconds;
  const reason = `not completed within ${bounds.cancelAfterSeconds} s of checkout`;
  // While the outbox is behind, the original events are still queued there: publishing them again
  // would only add duplicates to the backlog. Cancelling and settling payments go on.
  const mayRedrive = !(await deps.stranded.outboxBehind());

  const resolveCheckout = async ({ event, ageSeconds }: CheckoutWithoutOrder): Promise<RecoveryAction | undefined> => {
    const cancel = tooOld(ageSeconds);
    if (!cancel && !mayRedrive) return undefined;
    const acted = await orders.transaction(async (uow) => {
      if (!cancel) {
        await uow.addToOutbox({ id: uuidv7(), type: 'CartCheckedOut', payload: event, trace: noTrace });
        await uow.markRedriven(event.orderId);
        return true;
      }
      // No stock was reserved for an order that was never placed: nothing to give back.
      return enterOrder(
        uow,
        { ...orderOfCheckout(event), status: 'CANCELLED', reason, cancelReason: 'timeout' },
        { cancelReason: 'timeout' },
      );
    });
    if (!acted) return undefined;
    return cancel ? 'cancelled' : 'redriven';
  };

  const resolveOrder = async (order: PendingOrder): Promise<RecoveryAction | undefined> => {
    const { payment } = order;
    if (payment?.status === 'PENDING') {
      // Listed once its lease has expired: no call for it can still be live. Taken over, it is settled
      // from the provider's record, and charged with the same key only if the provider never saw it.
      const outcome = await takeOverPayment(orders, deps.provider, { id: payment.id, orderId: order.orderId, userId: order.userId, amountCents: payment.amountCents }, noTrace, deps.payments);
      return outcome === 'succeeded' || outcome === 'failed' ? 'payment_settled' : undefined;
    }
    if (payment) {
      const type = payment.status === 'SUCCEEDED' ? 'PaymentSucceeded' : 'PaymentFailed';
      const applied = await applyPaymentResult(orders, type, { orderId: order.orderId, paymentId: payment.id, ...(payment.reason ? { reason: payment.reason } : {}), occurredAt: new Date().toISOString() });
      // A cancel requested meanwhile started a refund: finished here, or by the loop below on a later run.
      if (applied?.refundOf) await finishRefund(orders, deps.provider, applied.refundOf, deps.payments);
      return applied ? 'payment_applied' : undefined;
    }
    if (tooOld(order.ageSeconds)) {
      const cancelled = await orders.transaction(async (uow) => {
        // Under the order's lock, so a payment starting now either comes first (and the order is not
        // cancelled) or finds the order CANCELLED and never charges.
        if ((await uow.lockOrder(order.orderId)) !== 'PENDING' || (await uow.paymentOf(order.orderId))) return false;
        return (await moveOrder(uow, order.orderId, 'PENDING', 'CANCELLED', { reason, cancelReason: 'timeout' })) !== undefined;
      });
      return cancelled ? 'cancelled' : undefined;
    }
    if (!mayRedrive) return undefined;
    await orders.transaction(async (uow) => {
      await uow.addToOutbox({
        id: uuidv7(),
        type: 'OrderCreated',
        payload: { orderId: order.orderId, userId: order.userId, total: numberFromCents(order.totalCents), occurredAt: new Date().toISOString() },
        trace: noTrace,
      });
      await uow.markRedriven(order.orderId);
    });
    return 'redriven';
  };

  for (const checkout of await deps.stranded.checkoutsWithoutOrder(bounds.redriveAfterSeconds, limit)) await isolated(checkout.event.orderId, () => resolveCheckout(checkout));
  for (const order of await deps.stranded.pendingOrders(bounds.redriveAfterSeconds, limit)) await isolated(order.orderId, () => resolveOrder(order));
  // A refund the cancelling request (or the orders function) could not finish: the provider's record of its key first, so it happens once.
  for (const paymentId of await deps.stranded.refundsInFlight(limit)) {
    await isolated(paymentId, async () => ((await finishRefund(orders, deps.provider, paymentId, deps.payments)) === 'refunded' ? 'refund_finished' : undefined));
  }
  return done;
}
