import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const migrationsDir = join(import.meta.dirname, '../../migrations');

describe('migration files', () => {
  it('when two branches add migrations, then no two files share a number (node-pg-migrate refuses a database that ran either first)', () => {
    const numbers = readdirSync(migrationsDir)
      .filter((name) => name.endsWith('.sql'))
      .map((name) => /^(\d+)_/.exec(name)?.[1]);
    expect(numbers).not.toContain(undefined);
    expect(new Set(numbers).size).toBe(numbers.length);
  });
});
