import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { connectionTimeoutMs } from '../../src/adapters/postgres/pool.js';
import { parseSettings } from '../../src/config.js';
import { devIssuerSettings } from '../../src/dev-issuer/index.js';

const hostJson = JSON.parse(readFileSync(join(import.meta.dirname, '../../host.json'), 'utf8')) as { extensions: { rabbitMQ: { prefetchCount: number } } };

describe('host.json against the app settings', () => {
  it('when every trigger invocation that takes a pooled connection of its own waits for one at once, then the last gets it within the connect timeout, with Postgres slowed to 300 ms a statement', () => {
    const settings = parseSettings({
      POSTGRES_URL: 'postgres://u:p@127.0.0.1:5432/db',
      REDIS_URL: 'redis://127.0.0.1:6379',
      RABBITMQ_URL: 'amqp://guest:guest@127.0.0.1:5672',
      ...devIssuerSettings({ issuer: 'https://localhost:7443/t/v2.0', jwksUri: 'http://127.0.0.1:7444/keys' }),
    });
    // docs/local-host.md, "prefetchCount is sized against the Postgres pool": the extension runs every
    // prefetched message at once. Placements, payment starts and results wait in the two group-commit
    // lanes, which hold one connection each, as the outbox relay does; a payment's provider call and a
    // notification's sent marker take one of their own, for one statement (the marker: across its send).
    const triggersTakingTheirOwn = 2;
    const heldByLanesAndRelay = 3;
    const slowStatementMs = 300;
    const waiters = triggersTakingTheirOwn * hostJson.extensions.rabbitMQ.prefetchCount;
    expect((waiters / (settings.PG_POOL_MAX - heldByLanesAndRelay)) * slowStatementMs).toBeLessThan(connectionTimeoutMs);
  });
});
