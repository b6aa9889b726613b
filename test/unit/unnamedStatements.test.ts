import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { projectRoot } from '../support/bicep.js';

// Postgres is reached through PgBouncer in transaction mode (infra/modules/postgres.bicep, the local
// stack's scripts/pgbouncer.sh): a named prepared statement lives on one server connection and the
// next transaction may get another ("prepared statement ... does not exist").
describe('queries through PgBouncer in transaction mode', () => {
  it('when the app sends a statement, then it is not a named prepared statement', () => {
    const files = readdirSync(join(projectRoot, 'src'), { recursive: true, encoding: 'utf8' }).filter((file) => file.endsWith('.ts'));
    const named = files.flatMap((file) => {
      const text = readFileSync(join(projectRoot, 'src', file), 'utf8');
      return [...text.matchAll(/\bname:\s*['`"][^'`"]+['`"],\s*text:|\bname,\s*text\b/g)].map((m) => `${file}: ${m[0]}`);
    });
    expect(files.length).toBeGreaterThan(20);
    expect(named).toEqual([]);
  });
});
