import { performance } from 'node:perf_hooks';
import type pg from 'pg';
import { outgoingEvent, type EventPayload, type EventPublisher, type EventType, type OutgoingEvent } from '../../domain/events.js';
import { logger } from '../telemetry/logger.js';
import { inTransaction } from './pool.js';

/**
 * The sweep leaves a row alone for this long after it is written (`relay_after`, from the clock at the
 * insert): the relay of the transaction that wrote it publishes it first.
 */
export const sweepAfterSeconds = 30;

/**
 * The INSERT of one outbox row whose values are the six parameters from `$first` on (`outboxValues`),
 * written only when the CTE named `onlyIf` returned a row.
 */
export function outboxInsert(onlyIf: string, first = 1): string {
  const [id, type, payload, traceparent, tracestate, after] = Array.from({ length: 6 }, (_, i) => `$${first + i}`);
  return `INSERT INTO outbox (id, type, payload, traceparent, tracestate, relay_after)
          SELECT ${id}::uuid, ${type}, ${payload}::jsonb, ${traceparent}, ${tracestate}, clock_timestamp() + make_interval(secs => ${after}::float8)
           WHERE EXISTS (SELECT 1 FROM ${onlyIf})`;
}

export const outboxValues = (event: OutgoingEvent) => [event.id, event.type, JSON.stringify(event.payload), event.trace?.traceparent ?? null, event.trace?.tracestate ?? null, sweepAfterSeconds];

/** Writes events to the outbox inside the caller's transaction, in one statement. */
export async function insertOutboxRows(client: pg.PoolClient, events: readonly OutgoingEvent[]): Promise<void> {
  if (events.length === 0) return;
  await client.query({
    text: `INSERT INTO outbox (id, type, payload, traceparent, tracestate, relay_after)
           SELECT e.id, e.type, e.payload::jsonb, e.traceparent, e.tracestate, clock_timestamp() + make_interval(secs => $6::float8)
             FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[]) AS e(id, type, payload, traceparent, tracestate)`,
    values: [
      events.map((event) => event.id),
      events.map((event) => event.type),
      events.map((event) => JSON.stringify(event.payload)),
      events.map((event) => event.trace?.traceparent ?? null),
      events.map((event) => event.trace?.tracestate ?? null),
      sweepAfterSeconds,
    ],
  });
}

/** Only typed OutgoingEvents are written to the outbox, so a row's payload is its type's. */
interface OutboxRow {
  id: string;
  type: EventType;
  payload: EventPayload;
  traceparent: string | null;
  tracestate: string | null;
}

/**
 * Publishes outbox rows and marks them sent. Right after a commit the relay publishes the events that
 * transaction wrote; the timer sweep takes rows whose relay window has passed. Both lock the rows
 * they publish (FOR UPDATE SKIP LOCKED) until their mark as sent commits, so the two never publish one
 * row at the same time: a row the relay holds is skipped by the sweep, and one the sweep took (or
 * already published) is skipped by the relay. A crash between publish and that commit releases the
 * lock with the row unsent; the sweep publishes it again, which the idempotent consumers absorb.
 */
export class OutboxRelay {
  /** Committed events waiting for the relay, each batch with the callers to tell when it is done. */
  #queue: { events: readonly OutgoingEvent[]; done: () => void }[] = [];
  #draining: Promise<void> | undefined;

  constructor(
    private readonly pool: pg.Pool,
    private readonly publisher: EventPublisher,
  ) {}

  /**
   * Publishes events right after the transaction that wrote them to the outbox committed; resolves
   * once they are published and marked sent, or left to the sweep. Under load, the events of many
   * commits queue while one batch is out and go together in the next (one lock-and-mark statement, one publish, one commit).
   */
  publishCommitted(events: readonly OutgoingEvent[]): Promise<void> {
    if (events.length === 0) return Promise.resolve();
    return new Promise((done) => {
      this.#queue.push({ events, done });
      this.#draining ??= this.#drain();
    });
  }

  /** Waits until every queued event is published or left to the sweep, e.g. before closing the pool. */
  async flush(): Promise<void> {
    await this.#draining;
  }

  async #drain(): Promise<void> {
    while (this.#queue.length > 0) {
      const batch = this.#queue.splice(0, 200);
      const events = batch.flatMap((entry) => entry.events);
      try {
        await this.#publishLocked(events);
      } catch (error) {
        logger.warn('outbox relay failed; the sweep will publish the events', { error, outboxIds: events.map((event) => event.id) });
      }
      for (const entry of batch) entry.done();
    }
    this.#draining = undefined;
  }

  /**
   * One statement locks and marks the events nobody else holds or published; the publish runs while
   * the mark is uncommitted (so the rows stay locked), and a failed publish rolls the mark back.
   */
  async #publishLocked(events: readonly OutgoingEvent[]): Promise<void> {
    await inTransaction(this.pool, async (client) => {
      const { rows } = await client.query<{ id: string }>(
        `UPDATE outbox SET sent_at = now(), attempts = attempts + 1
          WHERE id IN (SELECT id FROM outbox WHERE id = ANY($1::uuid[]) AND sent_at IS NULL FOR UPDATE SKIP LOCKED) RETURNING id`,
        [events.map((event) => event.id)],
      );
      const marked = new Set(rows.map((row) => row.id));
      const mine = events.filter((event) => marked.has(event.id));
      if (mine.length > 0) await this.publisher.publish(mine);
    });
  }

  /** Publishes rows left unsent past their relay window (a crash or outage between commit and publish). */
  async sweep(batchSize = 500): Promise<number> {
    return this.#publishClaimed(
      `SELECT id, type, payload, traceparent, tracestate FROM outbox
        WHERE sent_at IS NULL AND relay_after < now()
        ORDER BY relay_after LIMIT $1 FOR UPDATE SKIP LOCKED`,
      [batchSize],
    );
  }

  /**
   * Sweeps batch after batch while rows are due and `budgetMs` lasts, so a backlog left by a long
   * broker outage drains at the broker's pace rather than one batch per timer tick.
   */
  async sweepDue(budgetMs: number, batchSize = 500): Promise<number> {
    const deadline = performance.now() + budgetMs;
    let published = 0;
    for (;;) {
      const batch = await this.sweep(batchSize);
      published += batch;
      if (batch < batchSize || performance.now() > deadline) return published;
    }
  }

  /** Unsent rows, for the backlog gauge. */
  async backlog(): Promise<number> {
    const { rows } = await this.pool.query<{ count: string }>('SELECT count(*) FROM outbox WHERE sent_at IS NULL');
    return Number(rows[0]!.count);
  }

  async #publishClaimed(claimSql: string, values: unknown[]): Promise<number> {
    // An instance that cannot reach the broker must not hold rows locked that another one could publish.
    await this.publisher.check();
    const client = await this.pool.connect();
    let broken: unknown;
    try {
      await client.query('BEGIN');
      const { rows } = await client.query<OutboxRow>(claimSql, values);
      if (rows.length === 0) {
        await client.query('COMMIT');
        return 0;
      }
      try {
        await this.publisher.publish(
          rows.map((row) => outgoingEvent(row.type, row.id, row.payload, { traceparent: row.traceparent ?? undefined, tracestate: row.tracestate ?? undefined })),
        );
      } catch (error) {
        await client.query('UPDATE outbox SET attempts = attempts + 1, last_error = $2 WHERE id = ANY($1::uuid[])', [rows.map((r) => r.id), String((error as Error).message).slice(0, 500)]);
        await client.query('COMMIT');
        throw error;
      }
      await client.query('UPDATE outbox SET sent_at = now(), attempts = attempts + 1 WHERE id = ANY($1::uuid[])', [rows.map((r) => r.id)]);
      await client.query('COMMIT');
      return rows.length;
    } catch (error) {
      await client.query('ROLLBACK').catch((rollbackError: unknown) => (broken = rollbackError));
      throw error;
    } finally {
      client.release(broken instanceof Error ? broken : undefined);
    }
  }
}
