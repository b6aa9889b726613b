import type { HttpResponseInit } from '@azure/functions';
import { bindings } from '../adapters/rabbitmq/topology.js';
import type { ConsumerCount } from '../adapters/rabbitmq/queueMonitor.js';
import { problemContentType } from '../http/problem.js';
import type { Services } from './container.js';

type CheckName = 'postgres' | 'redis' | 'rabbitmq';
const timeoutMs = 2_000;

/** The queues the app's RabbitMQ-triggered functions consume. */
const triggerQueues = Object.keys(bindings);

/** The work's result, or undefined when it failed or took longer than the bound. */
function withTimeout<T>(work: Promise<T>): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<undefined>((resolve) => (timer = setTimeout(() => resolve(undefined), timeoutMs)));
  return Promise.race([work.catch(() => undefined), timeout]).finally(() => clearTimeout(timer));
}

const ok = (work: Promise<unknown>) => withTimeout(work.then(() => 'ok' as const));

/**
 * GET /api/health: each dependency checked in parallel with a 2 s bound, and every trigger queue
 * must have a consumer. The Functions host disables a RabbitMQ-triggered function whose listener
 * could not start (broker down or queue missing while it indexed functions) until it restarts; the
 * consumer watchdog (functions/watchdog.ts) restarts the app after reading the same counts, and the
 * 503 names what is down or unconsumed for the operator and the alerts.
 */
export async function checkHealth(s: Pick<Services, 'db' | 'redis' | 'publisher' | 'queueMonitor'>, queues: readonly string[] = triggerQueues): Promise<HttpResponseInit> {
  const [postgres, redis, rabbitmq, consumers] = await Promise.all([
    ok(s.db.query('SELECT 1')),
    ok(s.redis.ping()),
    ok(s.publisher.check()),
    withTimeout(s.queueMonitor.consumerCounts(queues)),
  ]);
  const checks: Record<CheckName, 'ok' | 'unavailable'> = { postgres: postgres ?? 'unavailable', redis: redis ?? 'unavailable', rabbitmq: rabbitmq ?? 'unavailable' };
  const down = (Object.keys(checks) as CheckName[]).filter((name) => checks[name] !== 'ok');
  // Consumers are known only while the broker answers; when it does not, `rabbitmq` says so.
  const unconsumed = consumers ? queues.filter((queue) => !isConsumed(consumers[queue])) : [];
  const consumerReport = consumers ? { consumers } : {};
  if (down.length === 0 && unconsumed.length === 0) {
    return { status: 200, headers: { 'cache-control': 'no-store' }, jsonBody: { status: 'ok', checks, ...consumerReport } };
  }
  const detail = [down.length ? `Unavailable: ${down.join(', ')}` : '', unconsumed.length ? `No consumer on queue: ${unconsumed.join(', ')}` : ''].filter(Boolean).join('; ');
  return {
    status: 503,
    headers: { 'content-type': problemContentType, 'cache-control': 'no-store', 'retry-after': '5' },
    body: JSON.stringify({
      type: 'about:blank',
      title: 'Service unavailable',
      status: 503,
      detail,
      code: down.length ? 'dependency_unavailable' : 'consumer_missing',
      checks,
      ...consumerReport,
    }),
  };
}

function isConsumed(count: ConsumerCount | undefined): boolean {
  return typeof count === 'number' && count > 0;
}
