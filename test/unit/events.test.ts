import type { InvocationContext } from '@azure/functions';
import { describe, expect, it } from 'vitest';
import { bindings, queueDeclarations, queues } from '../../src/adapters/rabbitmq/topology.js';
import { claimedEventType, readTriggerMessage } from '../../src/adapters/rabbitmq/triggerMessage.js';
import { eventBody, eventSchema, eventSchemas, outgoingEvent, type EventType } from '../../src/domain/events.js';

const ids = { orderId: '0190a6f1-7b2c-7d3e-8f40-1a2b3c4d5e6f', paymentId: '0190a6f1-7b2c-7d3e-8f40-1a2b3c4d5e70' };
const occurredAt = '2026-12-03T10:00:00.000Z';
const payloads = {
  CartCheckedOut: { checkoutId: ids.paymentId, orderId: ids.orderId, userId: 'user-1', items: [{ productId: ids.paymentId, name: 'Mug', unitPrice: 4.5, quantity: 2 }], total: 9, occurredAt },
  OrderCreated: { orderId: ids.orderId, userId: 'user-1', total: 9, occurredAt },
  PaymentSucceeded: { ...ids, occurredAt },
  PaymentFailed: { ...ids, reason: 'declined', occurredAt },
  OrderPaid: { orderId: ids.orderId, userId: 'user-1', total: 9, occurredAt },
  OrderCancelled: { orderId: ids.orderId, userId: 'user-1', reason: 'customer', refunded: true, occurredAt },
} as const satisfies Record<EventType, unknown>;

const context = (basicProperties: unknown) => ({ functionName: 'applyPayment', triggerMetadata: { basicProperties } }) as unknown as InvocationContext;

describe('the event contract', () => {
  it.each(Object.keys(eventSchemas) as EventType[])('when a %s is published, then its body names its type and its schema accepts it', (type) => {
    const body = eventBody(outgoingEvent(type, ids.orderId, payloads[type]));
    expect(body.type).toBe(type);
    expect(eventSchema(type).safeParse(JSON.parse(JSON.stringify(body))).success).toBe(true);
  });

  it('when a body has no type member (a publisher that sets only the property), then the schema still accepts it', () => {
    expect(eventSchema('OrderCreated').safeParse(payloads.OrderCreated).success).toBe(true);
  });

  it('when a body names another type, then the schema rejects it', () => {
    expect(eventSchema('PaymentSucceeded').safeParse({ ...payloads.PaymentFailed, type: 'PaymentFailed' }).success).toBe(false);
  });

  it("when the topology is declared, then each consumer's queue is bound to exactly the event types it takes", () => {
    const bound = Object.fromEntries(queueDeclarations().filter((q) => q.bindTo?.exchange === 'shop.events').map((q) => [q.name, q.bindTo!.routingKeys]));
    expect(bound).toEqual(bindings);
  });

  it('when an event type has no consumer, then it is still an event of the contract and no queue is declared for it', () => {
    const consumed = new Set<string>(Object.values(bindings).flat());
    const unconsumed = (Object.keys(eventSchemas) as EventType[]).filter((type) => !consumed.has(type));
    const declared = queueDeclarations().flatMap((q) => q.bindTo?.routingKeys ?? []);
    for (const type of unconsumed) expect(declared).not.toContain(type);
  });
});

describe('the event type of a delivered message', () => {
  const paymentTypes = bindings[queues.paymentProcessed];

  it('when the properties carry a type, then it wins over the body', () => {
    const message = readTriggerMessage({ ...payloads.PaymentFailed, type: 'PaymentFailed' }, context({ type: 'PaymentSucceeded', headers: {} }));
    expect(claimedEventType(message, paymentTypes)).toBe('PaymentSucceeded');
  });

  it('when the host delivers BasicProperties as the .NET type name (#119), then the type comes from the body', () => {
    const message = readTriggerMessage({ ...payloads.PaymentFailed, type: 'PaymentFailed' }, context('RabbitMQ.Client.Framing.BasicProperties'));
    expect(message).toMatchObject({ propertiesDelivered: false, type: undefined, messageId: undefined, trace: {}, requeueCount: 0 });
    expect(claimedEventType(message, paymentTypes)).toBe('PaymentFailed');
  });

  it("when neither properties nor body tell, then a queue's only type is assumed and a queue of two types has none", () => {
    const message = readTriggerMessage(payloads.OrderCreated, context('RabbitMQ.Client.Framing.BasicProperties'));
    expect(claimedEventType(message, bindings[queues.orderCreated])).toBe('OrderCreated');
    expect(claimedEventType(message, paymentTypes)).toBeUndefined();
  });
});
