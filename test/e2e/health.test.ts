import amqp from 'amqplib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { declareTopology } from '../../src/adapters/rabbitmq/topology.js';
import { createPrivateVhost, type PrivateVhost } from '../support/privateVhost.js';
import { startShop, type Shop } from '../support/shop.js';

interface HealthBody {
  status?: string;
  detail?: string;
  code?: string;
  checks: Record<string, string>;
  consumers?: Record<string, number | 'missing'>;
}

const triggerQueues = ['cart-checked-out', 'order-created', 'payment-processed'];

async function health(shop: Shop): Promise<{ status: number; body: HealthBody }> {
  const response = await fetch(`${shop.api}/health`);
  return { status: response.status, body: (await response.json()) as HealthBody };
}

describe('health', () => {
  let shop: Shop;
  beforeAll(async () => {
    shop = await startShop();
  });
  afterAll(() => shop?.stop());

  it('when every dependency answers and every trigger queue has a consumer, then 200 with each check ok, without a token', async () => {
    // The host announces itself before its RabbitMQ listeners have attached.
    await expect.poll(async () => (await health(shop)).status, { timeout: 15_000 }).toBe(200);
    const { body } = await health(shop);
    expect(body).toMatchObject({ status: 'ok', checks: { postgres: 'ok', redis: 'ok', rabbitmq: 'ok' } });
    expect(Object.keys(body.checks)).toEqual(['postgres', 'redis', 'rabbitmq']);
    for (const queue of triggerQueues) expect(body.consumers?.[queue]).toBeGreaterThan(0);
  });
});

describe('health when a trigger queue loses its consumer', () => {
  let vhost: PrivateVhost;
  let shop: Shop;
  beforeAll(async () => {
    vhost = await createPrivateVhost();
    // Its timers stay off: they would pull the shared database's outbox rows and stranded orders into this vhost.
    shop = await startShop({ env: { RABBITMQ_URL: vhost.url, 'AzureWebJobs.outboxSweep.Disabled': 'true', 'AzureWebJobs.resolveStrandedOrders.Disabled': 'true' } });
  });
  afterAll(async () => {
    await shop?.stop();
    await vhost?.delete();
  });

  it('when a queue is deleted, then 503 names it missing; declared again, it stays unconsumed and 503 names it', async () => {
    // Neither timer is scheduled: the local host leaves a disabled function out of its list, the real host lists it as disabled.
    if (shop.host.command) expect(shop.host.output()).toMatch(/Function 'Functions.outboxSweep' is disabled[^]*Function 'Functions.resolveStrandedOrders' is disabled/);
    else expect(shop.host.output()).not.toMatch(/outboxSweep|resolveStrandedOrders/);
    await expect.poll(async () => (await health(shop)).status, { timeout: 15_000 }).toBe(200);
    const connection = await amqp.connect(vhost.url);
    try {
      await (await connection.createChannel()).deleteQueue('payment-processed');

      await expect.poll(async () => (await health(shop)).body.consumers?.['payment-processed'], { timeout: 10_000 }).toBe('missing');
      const { status, body } = await health(shop);
      expect(status).toBe(503);
      expect(body).toMatchObject({ detail: 'No consumer on queue: payment-processed', code: 'consumer_missing', checks: { postgres: 'ok', redis: 'ok', rabbitmq: 'ok' } });

      // The broker cancelled the consumer; like the extension's listener, the host's does not consume again.
      await declareTopology(await connection.createChannel());
      await expect.poll(async () => (await health(shop)).body.consumers?.['payment-processed'], { timeout: 10_000 }).toBe(0);
      expect((await health(shop)).status).toBe(503);
    } finally {
      await connection.close();
    }
  });
});
