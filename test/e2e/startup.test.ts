import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { withDatabase } from '../../scripts/localPgBouncer.js';
import { postgresUrl } from '../support/pipeline.js';
import { startShop, type Shop } from '../support/shop.js';

/*
 * In Azure the database and the broker are private, so the app prepares them itself at start
 * (migrations, topology) rather than relying on `npm run setup` from a laptop.
 */
describe('the app prepares its dependencies at start', () => {
  const database = `shop_start_${randomUUID().slice(0, 8)}`;
  const admin = new pg.Pool({ connectionString: postgresUrl.replace(/\/[^/]*$/, '/postgres'), max: 1 });
  let shop: Shop | undefined;

  afterAll(async () => {
    await shop?.stop();
    await admin.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
    await admin.end();
  });

  it('when the host starts against an empty database, then the migrations are applied and the catalog answers', async () => {
    await admin.query(`CREATE DATABASE ${database}`);
    shop = await startShop({ env: { POSTGRES_URL: withDatabase(postgresUrl, database), POSTGRES_DIRECT_URL: withDatabase(process.env.POSTGRES_DIRECT_URL!, database) } });
    const response = await shop.call('/products', { token: await shop.token() });
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ items: [], nextCursor: null });
    const fresh = new pg.Pool({ connectionString: postgresUrl.replace(/\/[^/]*$/, `/${database}`), max: 1 });
    try {
      const { rows } = await fresh.query<{ name: string }>('SELECT name FROM pgmigrations ORDER BY id');
      expect(rows.map((r) => r.name)).toContain('1732500000004_charge_once');
    } finally {
      await fresh.end();
    }
  });
});
