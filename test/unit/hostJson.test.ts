import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseSettings } from '../../src/config.js';
import { devIssuerSettings } from '../../src/dev-issuer/index.js';

const hostJson = JSON.parse(readFileSync(join(import.meta.dirname, '../../host.json'), 'utf8')) as { extensions: { rabbitMQ: { prefetchCount: number } } };

describe('host.json against the app settings', () => {
  it('when the RabbitMQ extension prefetches, then each trigger holds no more messages than the Postgres pool has connections', () => {
    const settings = parseSettings({
      POSTGRES_URL: 'postgres://u:p@127.0.0.1:5432/db',
      REDIS_URL: 'redis://127.0.0.1:6379',
      RABBITMQ_URL: 'amqp://guest:guest@127.0.0.1:5672',
      ...devIssuerSettings({ issuer: 'https://localhost:7443/t/v2.0', jwksUri: 'http://127.0.0.1:7444/keys' }),
    });
    // docs/local-host.md, "prefetchCount is sized against the Postgres pool": the extension runs every prefetched message at once.
    expect(hostJson.extensions.rabbitMQ.prefetchCount).toBe(settings.PG_POOL_MAX);
  });
});
