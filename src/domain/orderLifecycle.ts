import type { EventType } from './events.js';

/*
 * The order's and the payment's state machines: every status change the system makes, with the
 * event it publishes and its effect on stock. The consumers, the resolver, the cancel route and the
 * views go through these tables (moveOrder in orders.ts, and the payment store's transitions), so a
 * status change no table names cannot happen.
 */

export const orderStatuses = ['PENDING', 'PAID', 'PAYMENT_FAILED', 'REJECTED', 'CANCELLED'] as const;
export type OrderStatus = (typeof orderStatuses)[number];

export interface OrderTransition {
  /** The event published (through the outbox, in the same transaction) when an order takes this transition. */
  emits?: Extract<EventType, 'OrderPaid' | 'OrderCancelled'>;
  /** The order's reserved stock goes back to the products. */
  releasesStock?: boolean;
}

export const orderTransitions = {
  PENDING: {
    PAID: { emits: 'OrderPaid' },
    PAYMENT_FAILED: { releasesStock: true },
    // Nothing was reserved: the reservation is what failed.
    REJECTED: {},
    CANCELLED: { emits: 'OrderCancelled', releasesStock: true },
  },
  PAID: {
    CANCELLED: { emits: 'OrderCancelled', releasesStock: true },
  },
  PAYMENT_FAILED: {},
  REJECTED: {},
  CANCELLED: {},
} as const satisfies { [From in OrderStatus]: Partial<Record<OrderStatus, OrderTransition>> };

/**
 * How an order comes to exist: PENDING (its OrderCreated follows once its stock is reserved), or
 * CANCELLED at once when its checkout was never placed in time (no stock was reserved for it).
 */
export const orderEntries = {
  PENDING: {},
  CANCELLED: { emits: 'OrderCancelled' },
} as const satisfies Partial<Record<OrderStatus, OrderTransition>>;

/** The transition from one status to another; undefined when the table has none. */
export function orderTransition(from: OrderStatus, to: OrderStatus): OrderTransition | undefined {
  return (orderTransitions[from] as Partial<Record<OrderStatus, OrderTransition>>)[to];
}

/** Statuses a customer may cancel an order in. */
export const cancellableStatuses: readonly OrderStatus[] = orderStatuses.filter((status) => orderTransition(status, 'CANCELLED'));

export const paymentStatuses = ['PENDING', 'SUCCEEDED', 'FAILED', 'REFUNDING', 'REFUNDED'] as const;
export type PaymentStatus = (typeof paymentStatuses)[number];

export interface PaymentTransition {
  /** The event published with the payment's new status. */
  emits?: Extract<EventType, 'PaymentSucceeded' | 'PaymentFailed'>;
}

export const paymentTransitions = {
  PENDING: { SUCCEEDED: { emits: 'PaymentSucceeded' }, FAILED: { emits: 'PaymentFailed' } },
  // With the order's move to CANCELLED, in one transaction (its OrderCancelled says refunded).
  SUCCEEDED: { REFUNDING: {} },
  // Once the provider answered the refund.
  REFUNDING: { REFUNDED: {} },
  FAILED: {},
  REFUNDED: {},
} as const satisfies { [From in PaymentStatus]: Partial<Record<PaymentStatus, PaymentTransition>> };

export function paymentTransition(from: PaymentStatus, to: PaymentStatus): PaymentTransition | undefined {
  return (paymentTransitions[from] as Partial<Record<PaymentStatus, PaymentTransition>>)[to];
}

/** A payment the provider has answered is shown; one still PENDING is not (it may not have reached the provider). */
export const visiblePaymentStatuses = paymentStatuses.filter((status) => status !== 'PENDING');
