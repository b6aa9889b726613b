import { performance } from 'node:perf_hooks';
import type pg from 'pg';
import { outgoingEvent, type EventPayload, type EventPublisher, type EventType, type OutgoingEvent } from '../../domain/events.js';
import { logger } from '../telemetry/logger.js';

/**
 * The sweep leaves a row alone for this long after it is written (`relay_after`, from the clock at the
 * insert), and the relay of the transaction that wrote it publishes only within `relayWindowMs` of the
 * transaction's start: with the publisher's 5 s confirm timeout, a relay is always done before the
 * sweep may take its rows, so the two never publish a row at the same time.
 */
const sweepAfterSeconds = 30;
export const relayWindowMs = 20_000;

/** Writes an event to the outbox inside the caller's transaction. */
export async function insertOutboxRow(client: pg.PoolClient, event: OutgoingEvent): Promise<void> {
  await client.query({
    name: 'outbox-insert',
    text: `INSERT INTO outbox (id, type, payload, traceparent, tracestate, relay_after) VALUES ($1, $2, $3, $4, $5, clock_timestamp() + make_interval(secs => $6))`,
    values: [event.id, event.type, JSON.stringify(event.payload), event.trace?.traceparent ?? null, event.trace?.tracestate ?? null, sweepAfterSeconds],
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
 * Publishes outbox rows and marks them sent. Right after a commit the relay publishes the events it
 * just wrote from memory; the timer sweep claims rows whose relay window has passed with FOR UPDATE
 * SKIP LOCKED. A crash between publish and mark re-publishes a row, which the idempotent consumers
 * absorb.
 */
export class OutboxRelay {
  /** Ids published but not yet marked sent, and the marking run that will take them. */
  #unmarked: string[] = [];
  #marking: Promise<void> | undefined;

  constructor(
    private readonly pool: pg.Pool,
    private readonly publisher: EventPublisher,
  ) {}

  /**
   * Publishes events right after the transaction that wrote them to the outbox committed. Marking
   * them sent is batched: while one UPDATE runs, the ids of later publishes gather for the next, so
   * under load many orders share a statement. A publish failure, or a crash before the mark, leaves
   * the rows to the sweep, which re-publishes them (the consumers are idempotent).
   */
  async publishCommitted(events: readonly OutgoingEvent[], transactionStartedAt: number): Promise<void> {
    if (events.length === 0) return;
    if (performance.now() - transactionStartedAt > relayWindowMs) {
      logger.warn('outbox relay window passed; the sweep will publish the events', { outboxIds: events.map((event) => event.id) });
      return;
    }
    try {
      await this.publisher.publish(events);
    } catch (error) {
      logger.warn('outbox relay failed; the sweep will publish the events', { error, outboxIds: events.map((event) => event.id) });
      return;
    }
    for (const event of events) this.#unmarked.push(event.id);
    this.#marking ??= this.#markSent();
  }

  /** Waits until every published event is marked sent (or its mark failed), e.g. before closing the pool. */
  async flush(): Promise<void> {
    await this.#marking;
  }

  async #markSent(): Promise<void> {
    while (this.#unmarked.length > 0) {
      const ids = this.#unmarked.splice(0, 1_000);
      try {
        await this.pool.query({ name: 'outbox-mark-sent', text: 'UPDATE outbox SET sent_at = now(), attempts = attempts + 1 WHERE id = ANY($1::uuid[]) AND sent_at IS NULL', values: [ids] });
      } catch (error) {
        logger.warn('could not mark published outbox rows sent; the sweep will publish them again', { error, outboxIds: ids });
      }
    }
    this.#marking = undefined;
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
