import { readdirSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { localPgBouncerPort, withDatabase } from '../../scripts/localPgBouncer.js';
import { migrateUp, migrationsDir } from '../../src/adapters/postgres/migrate.js';
import { createPool } from '../../src/adapters/postgres/pool.js';
import { postgresUrl } from '../support/pipeline.js';

// vitest.config.ts routes the suites through the local stack's PgBouncer (transaction pooling, as
// Azure's built-in one is configured by infra/modules/postgres.bicep); these check what that demands.
const directUrl = process.env.POSTGRES_DIRECT_URL ?? postgresUrl;

describe('Postgres through PgBouncer in transaction mode', () => {
  const database = `shop_pgbouncer_${randomUUID().slice(0, 8)}`;
  const admin = new pg.Pool({ connectionString: withDatabase(directUrl, 'postgres'), max: 1 });

  afterAll(async () => {
    await admin.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
    await admin.end();
  });

  it('when the suites run, then POSTGRES_URL names PgBouncer and POSTGRES_DIRECT_URL Postgres itself', () => {
    expect(new URL(postgresUrl).port).toBe(String(localPgBouncerPort));
    expect(new URL(directUrl).port).toBe('5432');
  });

  it('when two instances migrate a new database at once, then both succeed and each migration is applied once', async () => {
    await admin.query(`CREATE DATABASE ${database}`);
    const url = withDatabase(directUrl, database);
    const [first, second] = await Promise.all([migrateUp(url), migrateUp(url)]);
    const all = readdirSync(migrationsDir).map((file) => file.replace(/\.sql$/, '')).sort();
    expect([...first, ...second].sort()).toEqual(all);
  });

  it("when the app's pool connects through PgBouncer, then it is accepted and its statements carry the 10 s statement_timeout", async () => {
    const pool = createPool(withDatabase(postgresUrl, database), 4);
    try {
      // Several clients at once, so PgBouncer hands out more than one server connection.
      const timeouts = await Promise.all(Array.from({ length: 4 }, () => pool.query<{ statement_timeout: string }>('SHOW statement_timeout')));
      expect(timeouts.map((r) => r.rows[0]!.statement_timeout)).toEqual(['10s', '10s', '10s', '10s']);
      // Parameters travel with each statement, not as a named statement left on one server connection.
      for (let i = 0; i < 20; i++) expect((await pool.query<{ n: number }>('SELECT $1::int AS n', [i])).rows[0]!.n).toBe(i);
    } finally {
      await pool.end();
    }
  });
});
