import pg from 'pg';
import type { PostgresPassword } from './pool.js';

/** What the listener drives: a cache that may cache only while changes can be heard. */
export interface ChangeSubscriber {
  setEnabled(enabled: boolean): void;
  invalidate(): void;
}

export const productsChangedChannel = 'products_changed';

/**
 * Holds one `LISTEN products_changed` connection (the products trigger notifies on catalog changes;
 * stock-only updates do not, see migrations/) and invalidates the subscribers on each notification.
 * While the connection is down they are disabled, so nothing is served from a cache that could
 * miss a change; the connection is retried with backoff up to 10 s.
 */
export class ProductChangeListener {
  #client: pg.Client | undefined;
  #closed = false;
  #running: Promise<void> | undefined;

  constructor(
    private readonly connectionString: string,
    private readonly subscribers: readonly ChangeSubscriber[],
    private readonly password?: PostgresPassword,
  ) {}

  start(): void {
    this.#running ??= this.#listenUntilClosed();
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.#setEnabled(false);
    await this.#client?.end().catch(() => undefined);
    await this.#running;
  }

  async #listenUntilClosed(): Promise<void> {
    let retryMs = 250;
    while (!this.#closed) {
      const client = new pg.Client({
        connectionString: this.connectionString,
        ...(this.password && { password: this.password }),
        keepAlive: true,
        connectionTimeoutMillis: 3_000,
      });
      client.on('error', () => undefined); // the 'end' below is what matters
      const ended = new Promise<void>((resolve) => client.once('end', resolve));
      try {
        await client.connect();
        client.on('notification', () => this.subscribers.forEach((subscriber) => subscriber.invalidate()));
        await client.query(`LISTEN ${productsChangedChannel}`);
      } catch {
        await client.end().catch(() => undefined);
        await pause(retryMs);
        retryMs = Math.min(retryMs * 2, 10_000);
        continue;
      }
      this.#client = client;
      if (this.#closed) break;
      retryMs = 250;
      this.#setEnabled(true);
      await ended;
      this.#setEnabled(false);
      this.#client = undefined;
      if (!this.#closed) await pause(retryMs);
    }
    await this.#client?.end().catch(() => undefined);
  }

  #setEnabled(enabled: boolean): void {
    for (const subscriber of this.subscribers) subscriber.setEnabled(enabled);
  }
}

function pause(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}
