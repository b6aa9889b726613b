import { spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort } from '../../scripts/functionsHost.js';
import { withDatabase } from '../../scripts/localPgBouncer.js';
import { devIssuerSettings } from '../../src/dev-issuer/index.js';
import { projectRoot } from '../support/hostProcess.js';
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

/*
 * Under the real host a bad setting does not stop anything by itself: the worker fails to load the
 * entry point and the host serves no functions (scripts/functionsHost.ts, settingsProblem).
 */
describe('a malformed setting stops npm run dev and npm start', () => {
  for (const script of ['dev', 'start'])
    it(`when ENTRA_CLIENT_ID is not a GUID, then scripts/${script}.ts exits 1 at once with one line naming it, under any host`, async () => {
      const ports = await Promise.all([freePort(), freePort(), freePort(), freePort()]);
      const tenant = devIssuerSettings().ENTRA_TENANT_ID;
      const run = spawnSync(join(projectRoot, 'node_modules/.bin/tsx'), [join(projectRoot, `scripts/${script}.ts`)], {
        cwd: projectRoot,
        env: {
          ...process.env,
          ENTRA_CLIENT_ID: 'not-a-guid',
          PORT: String(ports[0]),
          STOREFRONT_PORT: String(ports[1]),
          ENTRA_ISSUER: `https://localhost:${ports[2]}/${tenant}/v2.0`,
          ENTRA_JWKS_URI: `http://127.0.0.1:${ports[3]}/${tenant}/discovery/v2.0/keys`,
        },
        encoding: 'utf8',
        timeout: 30_000,
      });
      expect(run.status, `${run.stdout}\n${run.stderr}`).toBe(1);
      expect(run.stderr.trim().split('\n').filter((line) => line.includes('ENTRA_CLIENT_ID'))).toEqual([`[${script}] Failed to start: Setting ENTRA_CLIENT_ID is invalid (Invalid GUID)`]);
    });
});
