import amqp, { type Channel, type ChannelModel } from 'amqplib';

/** A queue's consumers as the broker counts them, or `missing` when the queue does not exist. */
export type ConsumerCount = number | 'missing';

/**
 * Asks the broker how many consumers or messages each queue has (AMQP queue.declare passive), on a connection
 * of its own: a missing queue closes the channel that asked, which must not be the publisher's.
 */
export class QueueMonitor {
  #connection: Promise<ChannelModel> | undefined;
  #closed = false;

  constructor(private readonly url: string) {}

  /** Rejects when the broker cannot be reached. */
  async consumerCounts(queues: readonly string[]): Promise<Record<string, ConsumerCount>> {
    return this.#check(queues, (queue) => queue.consumerCount);
  }

  /** Messages ready in each queue (the dead-letter depth gauge); `missing` when the queue does not exist. Rejects when the broker cannot be reached. */
  async messageCounts(queues: readonly string[]): Promise<Record<string, number | 'missing'>> {
    return this.#check(queues, (queue) => queue.messageCount);
  }

  async #check(queues: readonly string[], pick: (queue: { messageCount: number; consumerCount: number }) => number): Promise<Record<string, number | 'missing'>> {
    const connection = await this.#connect();
    const counts: Record<string, number | 'missing'> = {};
    let channel: Channel | undefined;
    try {
      for (const queue of queues) {
        channel ??= await openChannel(connection);
        try {
          counts[queue] = pick(await channel.checkQueue(queue));
        } catch (error) {
          if ((error as { code?: unknown }).code !== 404) throw error;
          counts[queue] = 'missing'; // NOT_FOUND closed the channel
          channel = undefined;
        }
      }
    } finally {
      await channel?.close().catch(() => undefined);
    }
    return counts;
  }

  async close(): Promise<void> {
    this.#closed = true;
    const connection = this.#connection;
    this.#connection = undefined;
    await connection?.then((c) => c.close()).catch(() => undefined);
  }

  #connect(): Promise<ChannelModel> {
    if (this.#closed) return Promise.reject(new Error('queue monitor closed'));
    if (!this.#connection) {
      const opening = amqp.connect(this.url, { timeout: 2_000, clientProperties: { connection_name: 'shop-functions health' } });
      // Forget a connection that failed or dropped, so the next check connects again.
      const forget = () => {
        if (this.#connection === opening) this.#connection = undefined;
      };
      opening.then((connection) => connection.on('close', forget).on('error', forget), forget);
      this.#connection = opening;
    }
    return this.#connection;
  }
}

async function openChannel(connection: ChannelModel): Promise<Channel> {
  const channel = await connection.createChannel();
  channel.on('error', () => undefined); // a 404 is an answer here, reported by checkQueue's rejection
  return channel;
}
