import { z } from 'zod';

/*
 * Integration events (contract: Events). Payloads are validated on the way in: a consumer never
 * trusts what arrives on a queue.
 */

const money = z.number().nonnegative().multipleOf(0.01);
const uuid = z.uuid();

export const eventItemSchema = z.strictObject({
  productId: uuid,
  name: z.string().min(1).max(200),
  unitPrice: money,
  quantity: z.int().min(1).max(99),
});

export const cartCheckedOutSchema = z.strictObject({
  checkoutId: uuid,
  orderId: uuid,
  userId: z.string().min(1).max(200),
  items: z.array(eventItemSchema).min(1).max(100),
  total: money,
  occurredAt: z.iso.datetime({ offset: true }),
});

export const orderCreatedSchema = z.strictObject({
  orderId: uuid,
  userId: z.string().min(1).max(200),
  total: money,
  occurredAt: z.iso.datetime({ offset: true }),
});

export const paymentProcessedSchema = z.strictObject({
  orderId: uuid,
  paymentId: uuid,
  reason: z.string().max(500).optional(),
  occurredAt: z.iso.datetime({ offset: true }),
});

export type CartCheckedOut = z.infer<typeof cartCheckedOutSchema>;
export type OrderCreated = z.infer<typeof orderCreatedSchema>;
export type PaymentProcessed = z.infer<typeof paymentProcessedSchema>;

export type EventType = 'CartCheckedOut' | 'OrderCreated' | 'PaymentSucceeded' | 'PaymentFailed';

/** W3C trace context carried with an event, so every hop continues the checkout's trace. */
export interface TraceContext {
  traceparent?: string;
  tracestate?: string;
}

export interface OutgoingEvent {
  /** The event id: the message's `messageId`. */
  id: string;
  type: EventType;
  payload: unknown;
  trace?: TraceContext;
}

/** Publishes events durably: resolves only once the broker has confirmed every one. */
export interface EventPublisher {
  publish(events: readonly OutgoingEvent[]): Promise<void>;
}
