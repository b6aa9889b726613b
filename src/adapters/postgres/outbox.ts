import type pg from 'pg';
import type { EventPublisher, EventType, OutgoingEvent } from '../../domain/events.js';
import { logger } from '../telemetry/logger.js';

interface OutboxRow {
  id: string;
  type: EventType;
  payload: unknown;
  traceparent: string | null;
  tracestate: string | null;
}

/**
 * Publishes outbox rows and marks them sent. Right after a commit the relay publishes the events it
 * just wrote from memory; the timer sweep claims rows left unsent for a while with FOR UPDATE SKIP
 * LOCKED. A crash between publish and mark, or a sweep racing a slow relay, re-publishes a row,
 * which the idempotent consumers absorb.
 */
export class OutboxRelay {
  constructor(
    private readonly pool: pg.Pool,
    private readonly publisher: EventPublisher,
  ) {}

  /**
   * Publishes events right after the transaction that wrote them to the outbox committed, then marks
   * them sent in one statement. Failures are left to the sweep.
   */
  async publishCommitted(events: readonly OutgoingEvent[]): Promise<void> {
    if (events.length === 0) return;
    const ids = events.map((event) => event.id);
    try {
      await this.publisher.publish(events);
      await this.pool.query({ name: 'outbox-mark-sent', text: 'UPDATE outbox SET sent_at = now(), attempts = attempts + 1 WHERE id = ANY($1::uuid[]) AND sent_at IS NULL', values: [ids] });
    } catch (error) {
      logger.warn('outbox relay failed; the sweep will publish the events', { error, outboxIds: ids });
    }
  }

  /** Publishes rows left unsent for longer than `olderThanMs` (a crash or outage between commit and publish). */
  async sweep(olderThanMs = 5_000, batchSize = 500): Promise<number> {
    return this.#publishClaimed(
      `SELECT id, type, payload, traceparent, tracestate FROM outbox
        WHERE sent_at IS NULL AND created_at < now() - make_interval(secs => $1::double precision / 1000)
        ORDER BY created_at LIMIT $2 FOR UPDATE SKIP LOCKED`,
      [olderThanMs, batchSize],
    );
  }

  /** Unsent rows, for the backlog gauge. */
  async backlog(): Promise<number> {
    const { rows } = await this.pool.query<{ count: string }>('SELECT count(*) FROM outbox WHERE sent_at IS NULL');
    return Number(rows[0]!.count);
  }

  async #publishClaimed(claimSql: string, values: unknown[]): Promise<number> {
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
          rows.map((row) => ({ id: row.id, type: row.type, payload: row.payload, trace: { traceparent: row.traceparent ?? undefined, tracestate: row.tracestate ?? undefined } })),
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
