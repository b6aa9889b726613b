import { metrics } from '@opentelemetry/api';
import { MeterProvider, MetricReader, type GaugeMetricData } from '@opentelemetry/sdk-metrics';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { oldestPendingOrderAgeSeconds } from '../../src/adapters/postgres/strandedQueries.js';
import { QueueMonitor } from '../../src/adapters/rabbitmq/queueMonitor.js';
import { bindings, deadLetterQueueOf, queues } from '../../src/adapters/rabbitmq/topology.js';
import { observeDeadLetterDepth, observeOldestPendingOrder, observeQueueConsumers } from '../../src/adapters/telemetry/metrics.js';
import { uuidv7 } from '../../src/domain/ids.js';
import { resetOpenTelemetry } from '../support/openTelemetry.js';
import { createPrivateVhost, type PrivateVhost } from '../support/privateVhost.js';
import { RabbitTestClient } from '../support/rabbit.js';

const postgresUrl = process.env.POSTGRES_URL ?? 'postgres://postgres:postgres@127.0.0.1:5432/ecommerce';

/** Collects on demand, as the Azure Monitor and OTLP readers do on their schedules. */
class OnDemandReader extends MetricReader {
  protected async onForceFlush(): Promise<void> {}
  protected async onShutdown(): Promise<void> {}
}

/** The gauge's data points as one collection reports them. */
async function gaugePoints(reader: MetricReader, name: string): Promise<{ value: number; attributes: Record<string, unknown> }[]> {
  const { resourceMetrics } = await reader.collect();
  const metric = resourceMetrics.scopeMetrics.flatMap((scope) => scope.metrics).find((m) => m.descriptor.name === name) as GaugeMetricData | undefined;
  return (metric?.dataPoints ?? []).map((point) => ({ value: point.value, attributes: point.attributes }));
}

describe('the operational gauges on the real Postgres and RabbitMQ', () => {
  let pool: pg.Pool;
  let vhost: PrivateVhost;
  let monitor: QueueMonitor;
  let broker: RabbitTestClient;
  const reader = new OnDemandReader();
  const provider = new MeterProvider({ readers: [reader] });

  beforeAll(async () => {
    resetOpenTelemetry();
    metrics.setGlobalMeterProvider(provider);
    pool = new pg.Pool({ connectionString: postgresUrl, max: 2 });
    vhost = await createPrivateVhost();
    monitor = new QueueMonitor(vhost.url);
    broker = await RabbitTestClient.connect(vhost.url);
    observeOldestPendingOrder(() => oldestPendingOrderAgeSeconds(pool));
    observeDeadLetterDepth(() => monitor.messageCounts(Object.values(queues).map(deadLetterQueueOf)));
    observeQueueConsumers(() => monitor.consumerCounts(Object.keys(bindings)));
  });
  afterAll(async () => {
    await broker?.connection.close().catch(() => undefined);
    await monitor?.close();
    await vhost?.delete();
    await pool?.end();
    await provider.shutdown();
    resetOpenTelemetry();
  });

  it('when a PENDING order older than any other is placed, then the oldest-PENDING gauge reports its age, and drops once it leaves PENDING', async () => {
    const orderId = uuidv7();
    // Ten days back: older than any order another suite leaves PENDING in this database.
    await pool.query(
      `INSERT INTO orders (id, checkout_id, user_id, status, total, checked_out_at) VALUES ($1, $2, 'gauge-test', 'PENDING', 5, now() - interval '10 days')`,
      [orderId, uuidv7()],
    );
    try {
      const [stuck] = await gaugePoints(reader, 'shop.orders.oldest_pending_age_seconds');
      expect(stuck!.value).toBeGreaterThanOrEqual(10 * 86_400);
      expect(stuck!.value).toBeLessThan(10 * 86_400 + 60);

      await pool.query(`UPDATE orders SET status = 'CANCELLED', reason = 'gauge test', cancel_reason = 'timeout' WHERE id = $1`, [orderId]);
      const [after] = await gaugePoints(reader, 'shop.orders.oldest_pending_age_seconds');
      expect(after!.value).toBeLessThan(10 * 86_400);
    } finally {
      await pool.query('DELETE FROM orders WHERE id = $1', [orderId]);
    }
  });

  it('when nothing is PENDING, then the age is 0, not missing', async () => {
    const client = await pool.connect();
    try {
      // Inside a transaction that hides every PENDING order, so other suites' rows do not matter.
      await client.query('BEGIN');
      await client.query(`UPDATE orders SET status = 'CANCELLED', reason = 'gauge test', cancel_reason = 'timeout' WHERE status = 'PENDING'`);
      const fake = { query: client.query.bind(client) } as unknown as pg.Pool;
      expect(await oldestPendingOrderAgeSeconds(fake)).toBe(0);
    } finally {
      await client.query('ROLLBACK');
      client.release();
    }
  });

  it('when messages land in a dead-letter queue, then its depth gauge counts them, and goes back to 0 once they are taken', async () => {
    const dlq = deadLetterQueueOf(queues.orderCreated);
    const before = await gaugePoints(reader, 'shop.queue.dead_letter_depth');
    expect(before.map((p) => p.attributes.queue).sort()).toEqual(Object.values(queues).map(deadLetterQueueOf).sort());
    expect(before.every((p) => p.value === 0)).toBe(true);

    await broker.channel.assertQueue(dlq, { durable: true, arguments: { 'x-queue-type': 'classic' } });
    for (let i = 0; i < 3; i++) broker.channel.sendToQueue(dlq, Buffer.from('{}'), { persistent: true });
    await expect.poll(async () => (await gaugePoints(reader, 'shop.queue.dead_letter_depth')).find((p) => p.attributes.queue === dlq)?.value).toBe(3);
    const others = (await gaugePoints(reader, 'shop.queue.dead_letter_depth')).filter((p) => p.attributes.queue !== dlq);
    expect(others.every((p) => p.value === 0)).toBe(true);

    await broker.take(dlq, 3);
    await expect.poll(async () => (await gaugePoints(reader, 'shop.queue.dead_letter_depth')).find((p) => p.attributes.queue === dlq)?.value).toBe(0);
  });

  it('when a dead-letter queue is missing, then the queues after it are still counted', async () => {
    // The 404 closes the channel that asked; the next queue is asked on a new one.
    await broker.channel.deleteQueue(deadLetterQueueOf(queues.paymentProcessed));
    const dlq = deadLetterQueueOf(queues.orderNotifications);
    broker.channel.sendToQueue(dlq, Buffer.from('{}'), { persistent: true });
    await expect.poll(async () => (await gaugePoints(reader, 'shop.queue.dead_letter_depth')).find((p) => p.attributes.queue === dlq)?.value).toBe(1);
  });

  it('when a trigger queue gains a consumer, then its consumers gauge counts it; without one, or missing, it reports 0 (what the consumer-missing alert fires on)', async () => {
    const [watched, deleted] = Object.keys(bindings) as [string, string, ...string[]];
    const consumersOf = async (queue: string) => (await gaugePoints(reader, 'shop.queue.consumers')).find((p) => p.attributes.queue === queue)?.value;
    await expect.poll(() => consumersOf(watched)).toBe(0);
    const { consumerTag } = await broker.channel.consume(watched, () => undefined);
    await expect.poll(() => consumersOf(watched)).toBe(1);
    await broker.channel.cancel(consumerTag);
    await expect.poll(() => consumersOf(watched)).toBe(0);
    // A queue deleted under its consumer: the consumer goes with it, and the gauge says 0, not its last 1.
    await broker.channel.consume(deleted, () => undefined);
    await expect.poll(() => consumersOf(deleted)).toBe(1);
    await broker.channel.deleteQueue(deleted);
    await expect.poll(() => consumersOf(deleted)).toBe(0);
  });
});
