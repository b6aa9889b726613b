import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseSettings } from '../../src/config.js';
import { devIssuerSettings } from '../../src/dev-issuer/index.js';

const hostJson = JSON.parse(readFileSync(join(import.meta.dirname, '../../host.json'), 'utf8')) as { extensions: { rabbitMQ: { prefetchCount: number } } };

describe('host.json against the app settings', () => {
  it('when every prefetched message of every trigger runs at once, then the triggers hold a fixed number of pooled connections, whatever the prefetch, and leave the rest to HTTP requests', () => {
    const settings = parseSettings({
      POSTGRES_URL: 'postgres://u:p@127.0.0.1:5432/db',
      REDIS_URL: 'redis://127.0.0.1:6379',
      RABBITMQ_URL: 'amqp://guest:guest@127.0.0.1:5672',
      ...devIssuerSettings({ issuer: 'https://localhost:7443/t/v2.0', jwksUri: 'http://127.0.0.1:7444/keys' }),
    });
    // docs/local-host.md, "prefetchCount does not multiply Postgres connections": placements, payment
    // starts and results wait in the two group-commit lanes (one connection each), the outbox relay
    // holds one, and provider charges and notifications are made in batches, at most two at once each
    // (each shown on a real pool in test/integration/simulatedProvider.test.ts and notifications.test.ts).
    const heldByTriggers = 2 + 1 + 2 + 2;
    // Accepts, key lookups and stock lookups (two, one and one at most) and the reads share the rest.
    const leftToHttp = settings.PG_POOL_MAX - heldByTriggers;
    expect(hostJson.extensions.rabbitMQ.prefetchCount).toBeGreaterThan(settings.PG_POOL_MAX);
    expect(leftToHttp).toBeGreaterThanOrEqual(2);
  });
});
