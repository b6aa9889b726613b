import type { Channel, ChannelModel } from 'amqplib';
import type { EventType } from '../../domain/events.js';

/*
 * The broker topology (README, "Events and durability"). Events are published to one durable topic exchange
 * with the event type as routing key; each consumer function has a durable quorum queue whose
 * dead-letter exchange routes rejected messages to `<queue>.dlq`, and a `<queue>.retry` queue where
 * a message waits out a dependency outage before it flows back (see consumeEvent).
 */

export const eventsExchange = 'shop.events';
export const deadLetterExchange = 'shop.dlx';

/**
 * Each consumer function's queue with the event types it takes: the queues, their bindings to the
 * events exchange and each consumer's accepted types all follow from it. An event type no queue
 * takes is still published (the outbox, the trace) and routed nowhere until a consumer wants it.
 */
export const bindings = {
  'cart-checked-out': ['CartCheckedOut'],
  'order-created': ['OrderCreated'],
  'payment-processed': ['PaymentSucceeded', 'PaymentFailed'],
  'order-notifications': ['OrderPaid', 'OrderCancelled'],
} as const satisfies Record<string, readonly EventType[]>;

export type QueueName = keyof typeof bindings;

/** The event types a queue carries. */
export type EventTypeOn<Q extends QueueName> = (typeof bindings)[Q][number];

export const queues = {
  cartCheckedOut: 'cart-checked-out',
  orderCreated: 'order-created',
  paymentProcessed: 'payment-processed',
  orderNotifications: 'order-notifications',
} as const satisfies Record<string, QueueName>;

export const deadLetterQueueOf = (queue: QueueName) => `${queue}.dlq` as const;
export const retryQueueOf = (queue: QueueName) => `${queue}.retry` as const;

/**
 * Deliveries of one message before the broker dead-letters it. The extension's own rule (five
 * attempts, counted in a header it republishes with) covers handlers that throw; this covers a
 * message whose delivery kills the host every time, which no header ever counts.
 */
export const deliveryLimit = 10;
/** How long a message waits in `<queue>.retry` before it is delivered again. */
export const retryDelayMs = 30_000;

// Quorum queues: replicated and fsynced before publisher confirms (RabbitMQ's choice for data safety),
// with at-least-once dead-lettering so a message leaving for another queue is never dropped on the way.
const quorum = { 'x-queue-type': 'quorum', 'x-dead-letter-strategy': 'at-least-once', 'x-overflow': 'reject-publish' };

/** Each queue's declaration, the same locally and in Azure. */
export function queueDeclarations(): { name: string; arguments: Record<string, unknown>; bindTo?: { exchange: string; routingKeys: readonly string[] } }[] {
  return (Object.entries(bindings) as [QueueName, readonly string[]][]).flatMap(([queue, eventTypes]) => {
    const dlq = deadLetterQueueOf(queue);
    return [
      // Classic: a dead letter is read by requeueing it (`npm run dead-letters -- list`), and a quorum
      // queue counts each requeue against a delivery limit (20 by default from RabbitMQ 4), past which
      // the message would be dropped; a classic durable queue keeps it however often it is read.
      { name: dlq, arguments: { 'x-queue-type': 'classic' }, bindTo: { exchange: deadLetterExchange, routingKeys: [dlq] } },
      { name: queue, arguments: { ...quorum, 'x-delivery-limit': deliveryLimit, 'x-dead-letter-exchange': deadLetterExchange, 'x-dead-letter-routing-key': dlq }, bindTo: { exchange: eventsExchange, routingKeys: eventTypes } },
      // Expired messages go back to the queue through the default exchange.
      { name: retryQueueOf(queue), arguments: { ...quorum, 'x-message-ttl': retryDelayMs, 'x-dead-letter-exchange': '', 'x-dead-letter-routing-key': queue } },
    ];
  });
}

/** Declares the exchanges, queues, dead-letter and retry queues and bindings; idempotent. */
export async function declareTopology(channel: Channel): Promise<void> {
  await channel.assertExchange(eventsExchange, 'topic', { durable: true });
  await channel.assertExchange(deadLetterExchange, 'direct', { durable: true });
  for (const queue of queueDeclarations()) {
    await channel.assertQueue(queue.name, { durable: true, arguments: queue.arguments });
    for (const key of queue.bindTo?.routingKeys ?? []) await channel.bindQueue(queue.name, queue.bindTo!.exchange, key);
  }
}

/**
 * For brokers set up by an earlier release (classic queues): a queue declared with other arguments
 * is replaced when it is empty; a non-empty one is left, named in the error, to be drained first.
 */
export async function replaceOutdatedQueues(connection: ChannelModel): Promise<string[]> {
  const replaced: string[] = [];
  for (const queue of queueDeclarations()) {
    const probe = await connection.createChannel();
    probe.on('error', () => undefined);
    try {
      await probe.assertQueue(queue.name, { durable: true, arguments: queue.arguments });
      await probe.close();
      continue;
    } catch {
      // 406 PRECONDITION_FAILED closed the channel: the queue exists with other arguments.
    }
    const channel = await connection.createChannel();
    const { messageCount } = await channel.checkQueue(queue.name);
    if (messageCount > 0) throw new Error(`Queue ${queue.name} was declared by an earlier release and holds ${messageCount} messages: drain it, then run setup again`);
    // Quorum queues refuse if-empty deletes; setup runs before any host consumes, so the count stands.
    await channel.deleteQueue(queue.name);
    await channel.close();
    replaced.push(queue.name);
  }
  return replaced;
}
