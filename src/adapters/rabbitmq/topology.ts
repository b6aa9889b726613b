import type { Channel } from 'amqplib';

/*
 * The broker topology (docs/messaging.md). Events are published to one durable topic exchange
 * with the event type as routing key; each consumer function has a durable queue whose
 * dead-letter exchange routes rejected messages to `<queue>.dlq`.
 */

export const eventsExchange = 'shop.events';
export const deadLetterExchange = 'shop.dlx';

export const queues = {
  cartCheckedOut: 'cart-checked-out',
  orderCreated: 'order-created',
  paymentProcessed: 'payment-processed',
} as const;

export type QueueName = (typeof queues)[keyof typeof queues];

/** Which event types each queue receives. */
export const bindings: Record<QueueName, readonly string[]> = {
  [queues.cartCheckedOut]: ['CartCheckedOut'],
  [queues.orderCreated]: ['OrderCreated'],
  [queues.paymentProcessed]: ['PaymentSucceeded', 'PaymentFailed'],
};

export const deadLetterQueueOf = (queue: QueueName) => `${queue}.dlq` as const;

/** Declares the exchanges, queues, dead-letter queues and bindings; idempotent. */
export async function declareTopology(channel: Channel): Promise<void> {
  await channel.assertExchange(eventsExchange, 'topic', { durable: true });
  await channel.assertExchange(deadLetterExchange, 'direct', { durable: true });
  for (const [queue, eventTypes] of Object.entries(bindings) as [QueueName, readonly string[]][]) {
    const dlq = deadLetterQueueOf(queue);
    await channel.assertQueue(dlq, { durable: true });
    await channel.bindQueue(dlq, deadLetterExchange, dlq);
    await channel.assertQueue(queue, {
      durable: true,
      arguments: { 'x-dead-letter-exchange': deadLetterExchange, 'x-dead-letter-routing-key': dlq },
    });
    for (const type of eventTypes) await channel.bindQueue(queue, eventsExchange, type);
  }
}
