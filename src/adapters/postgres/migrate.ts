import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runner } from 'node-pg-migrate';
import pg from 'pg';
import { statementTimeoutMs, type PostgresPassword } from './pool.js';

/** The project's `migrations/` folder, found from this module whether it runs from `src/` or `dist/src/`. */
function findMigrationsDir(): string {
  for (let dir = dirname(fileURLToPath(import.meta.url)); dir !== dirname(dir); dir = dirname(dir)) {
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'migrations'))) return join(dir, 'migrations');
  }
  throw new Error('Cannot find the migrations folder');
}

export const migrationsDir = findMigrationsDir();

/** How long a migration run waits for the server to accept its connection. */
export const migrationConnectTimeoutMs = 10_000;

/**
 * Applies the SQL migrations in `migrations/` that have not run yet; returns their names. `databaseUrl`
 * must be a session connection (POSTGRES_DIRECT_URL, not PgBouncer's transaction pooling): node-pg-migrate
 * holds a session advisory lock for the run. An instance that finds the lock held waits for it (the
 * other instance is applying the same migrations) instead of failing. Then it makes the pool's statement
 * timeout the default of this role in this database, which every server connection, PgBouncer's
 * included, picks up at login.
 */
export async function migrateUp(databaseUrl: string, password?: PostgresPassword, log: (message: string) => void = () => {}): Promise<string[]> {
  // A migration may build an index on a large table: no statement timeout on this connection.
  const client = new pg.Client({
    connectionString: databaseUrl,
    ...(password && { password }),
    connectionTimeoutMillis: migrationConnectTimeoutMs,
    statement_timeout: 0,
  });
  client.on('error', () => undefined); // a lost connection fails the query in flight, which rejects below
  await client.connect();
  try {
    const applied = await runner({
      dbClient: client,
      dir: migrationsDir,
      migrationsTable: 'pgmigrations',
      direction: 'up',
      count: Infinity,
      checkOrder: true,
      advisoryLockMode: 'wait',
      log,
    });
    await client.query(
      `DO $$ BEGIN EXECUTE format('ALTER ROLE %I IN DATABASE %I SET statement_timeout = %L', current_user, current_database(), '${statementTimeoutMs}ms'); END $$`,
    );
    return applied.map((migration) => migration.name);
  } finally {
    await client.end().catch(() => undefined);
  }
}
