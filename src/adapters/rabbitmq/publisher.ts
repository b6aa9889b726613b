import amqp, { type ChannelModel, type ConfirmChannel, type Options } from 'amqplib';
import { dependencyUnavailable } from '../../errors.js';
import { eventBody, type EventPublisher, type OutgoingEvent } from '../../domain/events.js';
import { startProducerSpan } from '../telemetry/messaging.js';
import { declareTopology, eventsExchange } from './topology.js';

const confirmTimeoutMs = 5_000;

/**
 * Publishes on one confirm channel, reconnecting lazily after a broker restart. Every message is
 * persistent and carries messageId, type, contentType and the W3C trace headers; `publish`
 * resolves when the broker has confirmed all of them and fails (503) on a nack, a timeout or a
 * dead connection, so callers never report success for an event the broker does not hold.
 */
export class RabbitMqPublisher implements EventPublisher {
  #connection: ChannelModel | undefined;
  #channel: Promise<ConfirmChannel> | undefined;
  #closed = false;
  /** Why the broker blocks this connection (a memory or disk alarm), while it does. */
  #blockedReason: string | undefined;

  constructor(
    private readonly url: string,
    private readonly appId = 'shop-functions',
  ) {}

  publish(events: readonly OutgoingEvent[]): Promise<void> {
    return this.#withChannel((channel) =>
      Promise.all(
        events.map((event) => {
          const producer = startProducerSpan({ exchange: eventsExchange, routingKey: event.type }, event);
          return producer.run(() =>
            this.#send(channel, eventsExchange, event.type, Buffer.from(JSON.stringify(eventBody(event))), {
              messageId: event.id,
              type: event.type,
              headers: producer.headers,
            }),
          );
        }),
      ).then(() => undefined),
    );
  }

  /** Puts a message straight onto a queue (via the default exchange), confirmed; used to dead-letter poison messages. */
  sendToQueue(queue: string, content: Buffer, options: Options.Publish): Promise<void> {
    return this.#withChannel((channel) => this.#send(channel, '', queue, content, options));
  }

  /** Resolves when a confirm channel to the broker is open (for the health check). */
  async check(): Promise<void> {
    await this.#withChannel(async () => undefined);
  }

  async close(): Promise<void> {
    this.#closed = true;
    const connection = this.#connection;
    this.#connection = undefined;
    this.#channel = undefined;
    await connection?.close().catch(() => undefined);
  }

  #send(channel: ConfirmChannel, exchange: string, routingKey: string, content: Buffer, options: Options.Publish): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('publish confirm timed out')), confirmTimeoutMs);
      const accepted = channel.publish(
        exchange,
        routingKey,
        content,
        { contentType: 'application/json', appId: this.appId, timestamp: Math.floor(Date.now() / 1000), ...options, persistent: true },
        (error) => {
          clearTimeout(timer);
          if (error) reject(new Error('the broker nacked the message'));
          else resolve();
        },
      );
      void accepted; // back-pressure: the confirm callback is what we wait on
    });
  }

  async #withChannel<T>(work: (channel: ConfirmChannel) => Promise<T>): Promise<T> {
    if (this.#closed) throw dependencyUnavailable('rabbitmq', new Error('publisher closed'));
    // A blocked connection accepts writes but the broker reads none until the alarm clears: fail at
    // once instead of buffering messages that might still be delivered long after a timeout.
    if (this.#blockedReason !== undefined) throw dependencyUnavailable('rabbitmq', new Error(`the broker blocks publishing: ${this.#blockedReason}`));
    let channel: ConfirmChannel;
    try {
      channel = await (this.#channel ??= this.#open());
    } catch (error) {
      this.#channel = undefined;
      throw dependencyUnavailable('rabbitmq', error);
    }
    try {
      return await work(channel);
    } catch (error) {
      throw dependencyUnavailable('rabbitmq', error);
    }
  }

  async #open(): Promise<ConfirmChannel> {
    const connection = await amqp.connect(this.url, { timeout: 3_000, clientProperties: { connection_name: `${this.appId} publisher` } });
    const reset = () => {
      if (this.#connection === connection) {
        this.#connection = undefined;
        this.#channel = undefined;
        this.#blockedReason = undefined;
      }
    };
    connection.on('error', reset);
    connection.on('close', reset);
    connection.on('blocked', (reason: string) => {
      if (this.#connection === connection) this.#blockedReason = reason || 'resource alarm';
    });
    connection.on('unblocked', () => {
      if (this.#connection === connection) this.#blockedReason = undefined;
    });
    this.#connection = connection;
    const channel = await connection.createConfirmChannel();
    channel.on('error', reset);
    channel.on('close', reset);
    // Idempotent; keeps the app working against a broker that lost its definitions.
    await declareTopology(channel);
    return channel;
  }
}
