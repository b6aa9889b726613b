import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runner } from 'node-pg-migrate';

/** The project's `migrations/` folder, found from this module whether it runs from `src/` or `dist/src/`. */
function findMigrationsDir(): string {
  for (let dir = dirname(fileURLToPath(import.meta.url)); dir !== dirname(dir); dir = dirname(dir)) {
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'migrations'))) return join(dir, 'migrations');
  }
  throw new Error('Cannot find the migrations folder');
}

export const migrationsDir = findMigrationsDir();

/** Applies the SQL migrations in `migrations/` that have not run yet; returns their names. */
export async function migrateUp(databaseUrl: string, log: (message: string) => void = () => {}): Promise<string[]> {
  const applied = await runner({
    databaseUrl,
    dir: migrationsDir,
    migrationsTable: 'pgmigrations',
    direction: 'up',
    count: Infinity,
    checkOrder: true,
    log,
  });
  return applied.map((migration) => migration.name);
}
