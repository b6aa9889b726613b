import { z } from 'zod';
import { shippingAddressSchema } from './shippingAddress.js';

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

/*
 * Every event carries its type in the body as well as in the message's `type` property: under the
 * Functions host a Node function may receive no usable message properties
 * (azure-functions-rabbitmq-extension#119). Optional on input, so a message with only the property
 * stays valid.
 */
const typeMember = <T extends string>(type: T) => ({ type: z.literal(type).optional() });
const occurredAt = z.iso.datetime({ offset: true });

export const cartCheckedOutSchema = z.strictObject({
  ...typeMember('CartCheckedOut'),
  checkoutId: uuid,
  orderId: uuid,
  userId: z.string().min(1).max(200),
  items: z.array(eventItemSchema).min(1).max(100),
  total: money,
  /** Where the order goes, when the customer gave an address at checkout. */
  shippingAddress: shippingAddressSchema.optional(),
  /** Where the customer's notifications go, taken from the token at checkout. */
  email: z.email().max(320).optional(),
  occurredAt,
});

export const orderCreatedSchema = z.strictObject({
  ...typeMember('OrderCreated'),
  orderId: uuid,
  userId: z.string().min(1).max(200),
  total: money,
  occurredAt,
});

const paymentResult = {
  orderId: uuid,
  paymentId: uuid,
  reason: z.string().max(500).optional(),
  occurredAt,
};
export const paymentSucceededSchema = z.strictObject({ ...typeMember('PaymentSucceeded'), ...paymentResult });
export const paymentFailedSchema = z.strictObject({ ...typeMember('PaymentFailed'), ...paymentResult });

export const orderPaidSchema = z.strictObject({
  ...typeMember('OrderPaid'),
  orderId: uuid,
  userId: z.string().min(1).max(200),
  total: money,
  occurredAt,
});

export const cancelReasons = ['customer', 'timeout'] as const;

export const orderCancelledSchema = z.strictObject({
  ...typeMember('OrderCancelled'),
  orderId: uuid,
  userId: z.string().min(1).max(200),
  /** `customer`: the customer cancelled it; `timeout`: it could not be completed in time. */
  reason: z.enum(cancelReasons),
  /** Whether its charge is refunded (it had been paid). */
  refunded: z.boolean(),
  occurredAt,
});

/**
 * The event contract: every event type and its payload's schema. The outbox's payload types and
 * each consumer's accepted types follow from it, so a producer cannot write a payload its consumer's
 * schema does not describe. Which queues receive an event is the consumers' business
 * (src/adapters/rabbitmq/topology.ts): an event may have none.
 */
export const eventSchemas = {
  CartCheckedOut: cartCheckedOutSchema,
  OrderCreated: orderCreatedSchema,
  PaymentSucceeded: paymentSucceededSchema,
  PaymentFailed: paymentFailedSchema,
  OrderPaid: orderPaidSchema,
  OrderCancelled: orderCancelledSchema,
} as const;

export type EventType = keyof typeof eventSchemas;
export type EventPayload<T extends EventType = EventType> = z.infer<(typeof eventSchemas)[T]>;

export type CartCheckedOut = EventPayload<'CartCheckedOut'>;
export type OrderCreated = EventPayload<'OrderCreated'>;
export type PaymentProcessed = EventPayload<'PaymentSucceeded' | 'PaymentFailed'>;
export type CancelReason = (typeof cancelReasons)[number];

/** The schema of one event type's payload. */
export function eventSchema<T extends EventType>(type: T): z.ZodType<EventPayload<T>> {
  // The map pairs each type with its schema; TypeScript cannot follow that through a generic index.
  return eventSchemas[type] as unknown as z.ZodType<EventPayload<T>>;
}

/** W3C trace context carried with an event, so every hop continues the checkout's trace. */
export interface TraceContext {
  traceparent?: string;
  tracestate?: string;
}

/** An event to publish, its payload typed by its type. `id` is the event id: the message's `messageId`. */
export type OutgoingEvent = { [T in EventType]: { id: string; type: T; payload: EventPayload<T>; trace?: TraceContext } }[EventType];

export function outgoingEvent<T extends EventType>(type: T, id: string, payload: EventPayload<T>, trace?: TraceContext): OutgoingEvent {
  // TypeScript cannot relate a generic T to one member of the union; the signature ties payload to type.
  return { id, type, payload, ...(trace ? { trace } : {}) } as OutgoingEvent;
}

/** The published body: the payload with its type, so it describes itself without message properties. */
export function eventBody(event: OutgoingEvent): EventPayload {
  return { ...event.payload, type: event.type } as EventPayload;
}

/** Publishes events durably: resolves only once the broker has confirmed every one. */
export interface EventPublisher {
  publish(events: readonly OutgoingEvent[]): Promise<void>;
  /** Resolves when the broker can take messages now; rejects while it is unreachable or blocking. */
  check(): Promise<void>;
}
