import type { OrderCreated, TraceContext } from './events.js';
import { uuidv7 } from './ids.js';
import { centsFromNumber, type Cents } from './money.js';
import type { OrderStore } from './orders.js';

export interface ChargeResult {
  approved: boolean;
  reason?: string;
}

/** A payment service provider. `charge` must be idempotent per orderId, as real PSPs are per idempotency key. */
export interface PaymentProvider {
  charge(request: { orderId: string; userId: string; amountCents: Cents }): Promise<ChargeResult>;
}

/**
 * The built-in simulated provider. Deterministic: an amount above `declineAboveCents` is declined
 * with "amount exceeds the card limit"; everything else is approved. `latencyMs` imitates a PSP call.
 */
export function simulatedPaymentProvider(options: { declineAboveCents: Cents; latencyMs: number }): PaymentProvider {
  return {
    async charge({ amountCents }) {
      if (options.latencyMs > 0) await new Promise((resolve) => setTimeout(resolve, options.latencyMs));
      return amountCents > options.declineAboveCents ? { approved: false, reason: 'amount exceeds the card limit' } : { approved: true };
    },
  };
}

export type PaymentHandling = 'succeeded' | 'failed' | 'duplicate';

/** payments function, on OrderCreated: charge once per order, record it and report back through the outbox. */
export async function processPayment(store: OrderStore, provider: PaymentProvider, event: OrderCreated, trace: TraceContext): Promise<PaymentHandling> {
  if (await store.paymentExists(event.orderId)) return 'duplicate';
  const amountCents = centsFromNumber(event.total)!;
  const result = await provider.charge({ orderId: event.orderId, userId: event.userId, amountCents });
  const paymentId = uuidv7();
  return store.transaction(async (uow) => {
    const recorded = await uow.insertPayment({
      id: paymentId,
      orderId: event.orderId,
      status: result.approved ? 'SUCCEEDED' : 'FAILED',
      amountCents,
      reason: result.reason ?? null,
    });
    if (!recorded) return 'duplicate';
    await uow.addToOutbox({
      id: uuidv7(),
      type: result.approved ? 'PaymentSucceeded' : 'PaymentFailed',
      payload: { orderId: event.orderId, paymentId, ...(result.reason ? { reason: result.reason } : {}), occurredAt: new Date().toISOString() },
      trace,
    });
    return result.approved ? 'succeeded' : 'failed';
  });
}
