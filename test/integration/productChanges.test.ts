import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { ProductChangeListener } from '../../src/adapters/postgres/productChanges.js';
import { ReadThroughCache } from '../../src/app/readThroughCache.js';
import { uuidv7 } from '../../src/domain/ids.js';

const postgresUrl = process.env.POSTGRES_URL ?? 'postgres://postgres:postgres@127.0.0.1:5432/ecommerce';
// LISTEN takes the session connection, as in the app (container.ts); the writes go through PgBouncer.
const directUrl = process.env.POSTGRES_DIRECT_URL ?? postgresUrl;

describe('product change listener on real Postgres', () => {
  let db: pg.Pool;
  let cache: ReadThroughCache;
  let listener: ProductChangeListener;
  const applicationName = `product-changes-test-${process.pid}`;

  beforeAll(async () => {
    db = new pg.Pool({ connectionString: postgresUrl, max: 2 });
    cache = new ReadThroughCache({ maxAgeMs: 60_000, maxEntries: 10 });
    listener = new ProductChangeListener(`${directUrl}?application_name=${applicationName}`, [cache]);
    listener.start();
    await vi.waitFor(() => expect(cache.enabled).toBe(true), { timeout: 5_000 });
  });

  afterAll(async () => {
    await listener?.close();
    await db?.end();
  });

  const cachedValue = () => cache.getOrLoad('k', async () => Symbol('loaded'));

  it('when a product is inserted, renamed or deleted by SQL, then the cache is cleared', async () => {
    const id = uuidv7();
    for (const [statement, values] of [
      ['INSERT INTO products (id, name, price, stock) VALUES ($1, $2, 1, 1)', [id, 'Listener probe']],
      ["UPDATE products SET name = 'Listener probe 2' WHERE id = $1", [id]],
      ['DELETE FROM products WHERE id = $1', [id]],
    ] as const) {
      const before = await cachedValue();
      expect(await cachedValue()).toBe(before);
      await db.query(statement, [...values]);
      await expect.poll(cachedValue, { timeout: 2_000, interval: 10 }).not.toBe(before);
    }
  });

  it('when only stock changes (orders reserving it), then no notification is sent', async () => {
    const id = uuidv7();
    const beforeInsert = await cachedValue();
    await db.query('INSERT INTO products (id, name, price, stock) VALUES ($1, $2, 1, 5)', [id, 'Stock probe']);
    await expect.poll(cachedValue, { timeout: 2_000, interval: 10 }).not.toBe(beforeInsert);
    const before = await cachedValue();
    await db.query('UPDATE products SET stock = stock - 1, updated_at = now() WHERE id = $1', [id]);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(await cachedValue()).toBe(before);
    await db.query('DELETE FROM products WHERE id = $1', [id]);
  });

  it('when its connection is cut, then caching stops until it has listened again', async () => {
    await db.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1', [applicationName]);
    await expect.poll(() => cache.enabled, { timeout: 2_000, interval: 5 }).toBe(false);
    await expect.poll(() => cache.enabled, { timeout: 15_000 }).toBe(true);
    const before = await cachedValue();
    await db.query("UPDATE products SET price = price WHERE name = 'no such product'");
    await expect.poll(cachedValue, { timeout: 2_000, interval: 10 }).not.toBe(before);
  });
});
