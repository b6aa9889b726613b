import amqp, { type Channel, type ChannelModel, type ConsumeMessage } from 'amqplib';

export const rabbitUrl = process.env.RABBITMQ_URL ?? 'amqp://guest:guest@127.0.0.1:5672';

/** A test's own broker connection with helpers that await messages instead of sleeping. */
export class RabbitTestClient {
  private constructor(
    readonly connection: ChannelModel,
    readonly channel: Channel,
  ) {}

  static async connect(url = rabbitUrl): Promise<RabbitTestClient> {
    const connection = await amqp.connect(url);
    return new RabbitTestClient(connection, await connection.createChannel());
  }

  /** Resolves with the next `count` messages of a queue (acking them), or rejects after `timeoutMs`. */
  async take(queue: string, count: number, timeoutMs = 15_000): Promise<ConsumeMessage[]> {
    const channel = await this.connection.createChannel();
    const messages: ConsumeMessage[] = [];
    try {
      return await new Promise<ConsumeMessage[]>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`got ${messages.length} of ${count} messages from ${queue} in ${timeoutMs} ms`)), timeoutMs);
        void channel.consume(queue, (message) => {
          if (!message || messages.length >= count) return;
          messages.push(message);
          channel.ack(message);
          if (messages.length === count) {
            clearTimeout(timer);
            resolve(messages);
          }
        });
      });
    } finally {
      await channel.close().catch(() => undefined);
    }
  }

  /**
   * Resolves with the first message of a queue matching `predicate` (acked); messages that do not
   * match are returned to the queue untouched, so shared queues keep what other suites put there.
   */
  async find(queue: string, predicate: (message: ConsumeMessage) => boolean, timeoutMs = 15_000): Promise<ConsumeMessage> {
    const channel = await this.connection.createChannel();
    const others: ConsumeMessage[] = [];
    try {
      return await new Promise<ConsumeMessage>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no matching message in ${queue} after ${timeoutMs} ms`)), timeoutMs);
        void channel.consume(queue, (message) => {
          if (!message) return;
          if (predicate(message)) {
            channel.ack(message);
            clearTimeout(timer);
            resolve(message);
          } else others.push(message);
        });
      });
    } finally {
      for (const message of others) channel.nack(message, false, true);
      await channel.close().catch(() => undefined);
    }
  }

  async close(): Promise<void> {
    await this.connection.close().catch(() => undefined);
  }
}
