import amqp, { type ChannelModel } from 'amqplib';
import pg from 'pg';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { SiteRestarter } from '../../src/adapters/azure/siteRestarter.js';
import { postgresWatchdogState } from '../../src/adapters/postgres/watchdogState.js';
import { QueueMonitor } from '../../src/adapters/rabbitmq/queueMonitor.js';
import { bindings } from '../../src/adapters/rabbitmq/topology.js';
import { watchConsumersOnce, type ConsumerWatchdog } from '../../src/app/consumerWatchdog.js';
import { createPrivateVhost, type PrivateVhost } from '../support/privateVhost.js';

const postgresUrl = process.env.POSTGRES_URL ?? 'postgres://postgres:postgres@127.0.0.1:5432/ecommerce';
const triggerQueues = Object.keys(bindings);
// Its own site: the e2e suite's running app keeps its state under another, in the same table.
const site = `/subscriptions/00000000-0000-0000-0000-000000000002/resourceGroups/rg-test/providers/Microsoft.Web/sites/integration-${process.pid}`;
const [firstQueue] = triggerQueues as [string, ...string[]];

describe('the consumer watchdog on the real Postgres and RabbitMQ', () => {
  let pool: pg.Pool;
  let vhost: PrivateVhost;
  let monitor: QueueMonitor;
  let consumers: ChannelModel;
  let restarts: number;
  const restarter: SiteRestarter = { restart: async () => void restarts++ };
  const watchdog = (policy = { unconsumedForMs: 1_000, minRestartIntervalMs: 60_000 }): ConsumerWatchdog => ({
    consumerCounts: (queues) => monitor.consumerCounts(queues),
    store: postgresWatchdogState(pool, site),
    restarter,
    policy,
  });
  const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

  beforeAll(async () => {
    pool = new pg.Pool({ connectionString: postgresUrl, max: 4 });
    vhost = await createPrivateVhost();
    monitor = new QueueMonitor(vhost.url);
  });
  afterAll(async () => {
    await pool?.query('DELETE FROM consumer_watchdog WHERE site = $1', [site]);
    await consumers?.close().catch(() => undefined);
    await monitor?.close();
    await vhost?.delete();
    await pool?.end();
  });
  beforeEach(async () => {
    restarts = 0;
    await consumers?.close().catch(() => undefined);
    await pool.query('DELETE FROM consumer_watchdog WHERE site = $1', [site]);
  });

  /** One consumer on each trigger queue but those named. */
  async function consume(except: string[] = []): Promise<void> {
    consumers = await amqp.connect(vhost.url);
    const channel = await consumers.createChannel();
    for (const queue of triggerQueues.filter((q) => !except.includes(q))) await channel.consume(queue, () => undefined);
  }

  it('when a queue has a consumer and another none, then checkQueue counts 1 and 0, and a queue that does not exist is missing', async () => {
    await consume([firstQueue]);
    const counts = await monitor.consumerCounts([...triggerQueues, 'no-such-queue']);
    expect(counts[firstQueue]).toBe(0);
    for (const queue of triggerQueues.slice(1)) expect(counts[queue]).toBe(1);
    expect(counts['no-such-queue']).toBe('missing');
  });

  it('when a trigger queue stays without a consumer past the window, then the app is restarted once, and the state says so', async () => {
    await consume([firstQueue]);
    expect(await watchConsumersOnce(watchdog(), triggerQueues)).toMatchObject({ kind: 'wait', queues: [firstQueue] });
    await pause(1_100);
    expect(await watchConsumersOnce(watchdog(), triggerQueues)).toEqual({ kind: 'restart', queues: [firstQueue] });
    expect(restarts).toBe(1);
    const { rows } = await pool.query<{ last_restart_at: Date | null }>('SELECT last_restart_at FROM consumer_watchdog WHERE site = $1', [site]);
    expect(rows[0]!.last_restart_at).not.toBeNull();
    // Within the interval the queue is still unconsumed, but no second restart.
    await pause(1_100);
    await watchConsumersOnce(watchdog(), triggerQueues);
    await watchConsumersOnce(watchdog(), triggerQueues);
    expect(restarts).toBe(1);
  });

  it('when several instances look at the same moment past the window, then exactly one of them restarts the app', async () => {
    await consume([firstQueue]);
    await watchConsumersOnce(watchdog(), triggerQueues);
    await pause(1_100);
    const actions = await Promise.all(Array.from({ length: 4 }, () => watchConsumersOnce(watchdog(), triggerQueues)));
    expect(actions.filter((action) => action.kind === 'restart')).toHaveLength(1);
    expect(restarts).toBe(1);
  });

  it('when every trigger queue has a consumer, then nothing is restarted', async () => {
    await consume();
    await watchConsumersOnce(watchdog(), triggerQueues);
    await pause(1_100);
    expect(await watchConsumersOnce(watchdog(), triggerQueues)).toEqual({ kind: 'none' });
    expect(restarts).toBe(0);
  });

  it('when the broker cannot be reached, then nothing is restarted however long it lasts', async () => {
    const unreachable = new QueueMonitor('amqp://guest:guest@127.0.0.1:1/');
    const blind: ConsumerWatchdog = { ...watchdog(), consumerCounts: (queues) => unreachable.consumerCounts(queues) };
    await watchConsumersOnce(blind, triggerQueues);
    await pause(1_100);
    expect(await watchConsumersOnce(blind, triggerQueues)).toEqual({ kind: 'none' });
    expect(restarts).toBe(0);
    await unreachable.close();
  });

  it('when the restart call fails, then the attempt still counts against the interval (no restart storm) and the failure reaches the caller', async () => {
    await consume([firstQueue]);
    const failing: ConsumerWatchdog = { ...watchdog(), restarter: { restart: async () => Promise.reject(new Error('403 from Resource Manager')) } };
    await watchConsumersOnce(failing, triggerQueues);
    await pause(1_100);
    await expect(watchConsumersOnce(failing, triggerQueues)).rejects.toThrow(/403/);
    await pause(1_100);
    expect(await watchConsumersOnce(watchdog(), triggerQueues)).toMatchObject({ kind: 'wait' });
    expect(restarts).toBe(0);
  });
});
