import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OutboxRelay } from '../../src/adapters/postgres/outbox.js';
import type { EventPublisher, OutgoingEvent } from '../../src/domain/events.js';
import { uuidv7 } from '../../src/domain/ids.js';

const postgresUrl = process.env.POSTGRES_URL ?? 'postgres://postgres:postgres@127.0.0.1:5432/ecommerce';

/** A real pool that counts the statements marking outbox rows sent, on the clients it hands out. */
function countingPool(): pg.Pool & { marks: number } {
  const pool = Object.assign(new pg.Pool({ connectionString: postgresUrl, max: 4 }), { marks: 0 });
  pool.on('acquire', (client: pg.PoolClient & { counted?: boolean }) => {
    if (client.counted) return;
    client.counted = true;
    const query = client.query.bind(client) as (...args: unknown[]) => unknown;
    (client as unknown as { query: (...args: unknown[]) => unknown }).query = (...args) => {
      if (typeof args[0] === 'string' && args[0].startsWith('UPDATE outbox SET sent_at')) pool.marks++;
      return query(...args);
    };
  });
  return pool;
}

describe('outbox relay on real Postgres', () => {
  let pool: ReturnType<typeof countingPool>;
  const published: string[] = [];
  let failPublish = false;
  const publisher: EventPublisher = {
    check: async () => undefined,
    async publish(events) {
      await new Promise((resolve) => setTimeout(resolve, 1));
      if (failPublish) throw new Error('broker down');
      published.push(...events.map((e) => e.id));
    },
  };

  beforeAll(() => {
    pool = countingPool();
  });
  afterAll(async () => {
    await pool?.end();
  });

  async function writeOutbox(count: number): Promise<OutgoingEvent[]> {
    const events = Array.from({ length: count }, () => ({ id: uuidv7(), type: 'OrderCreated', payload: { test: true } }) as unknown as OutgoingEvent);
    await pool.query('INSERT INTO outbox (id, type, payload) SELECT id, $2, $3 FROM unnest($1::uuid[]) AS id', [events.map((e) => e.id), 'OrderCreated', '{"test":true}']);
    return events;
  }

  const unsent = async (events: OutgoingEvent[]) =>
    Number((await pool.query<{ n: string }>('SELECT count(*) AS n FROM outbox WHERE id = ANY($1::uuid[]) AND sent_at IS NULL', [events.map((e) => e.id)])).rows[0]!.n);

  it('when many commits publish at once, then every row is marked sent, in far fewer statements than events', async () => {
    const events = await writeOutbox(200);
    const relay = new OutboxRelay(pool, publisher);
    pool.marks = 0;
    await Promise.all(events.map((event) => relay.publishCommitted([event])));
    await relay.flush();
    expect(await unsent(events)).toBe(0);
    expect(events.every((e) => published.includes(e.id))).toBe(true);
    expect(pool.marks).toBeGreaterThan(0);
    expect(pool.marks).toBeLessThan(50);
  });

  it('when the publish fails, then the rows stay unsent for the sweep', async () => {
    const events = await writeOutbox(3);
    const relay = new OutboxRelay(pool, publisher);
    failPublish = true;
    try {
      await relay.publishCommitted(events);
    } finally {
      failPublish = false;
    }
    await relay.flush();
    expect(await unsent(events)).toBe(3);
    await pool.query('UPDATE outbox SET sent_at = now() WHERE id = ANY($1::uuid[])', [events.map((e) => e.id)]);
  });

  it('when a row was just written, then the sweep leaves it to its relay; once its relay window passed, the sweep publishes it', async () => {
    const events = await writeOutbox(2);
    const relay = new OutboxRelay(pool, publisher);
    await relay.sweepDue(5_000);
    expect(published.filter((id) => events.some((e) => e.id === id))).toEqual([]);
    await pool.query("UPDATE outbox SET relay_after = now() - interval '1 second' WHERE id = ANY($1::uuid[])", [events.map((e) => e.id)]);
    await relay.sweepDue(5_000);
    expect(await unsent(events)).toBe(0);
    expect(events.every((e) => published.includes(e.id))).toBe(true);
  });

  it('when the sweep holds a row or already published it, then the relay publishes neither', async () => {
    const [held, done] = await writeOutbox(2);
    await pool.query('UPDATE outbox SET sent_at = now() WHERE id = $1', [done!.id]);
    const sweeper = await pool.connect();
    try {
      await sweeper.query('BEGIN');
      await sweeper.query('SELECT id FROM outbox WHERE id = $1 FOR UPDATE', [held!.id]);
      await new OutboxRelay(pool, publisher).publishCommitted([held!, done!]);
      expect(published.filter((id) => id === held!.id || id === done!.id)).toEqual([]);
      expect(await unsent([held!])).toBe(1);
    } finally {
      await sweeper.query('ROLLBACK');
      sweeper.release();
    }
    await pool.query('UPDATE outbox SET sent_at = now() WHERE id = $1', [held!.id]);
  });
});
