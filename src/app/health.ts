import type { HttpResponseInit } from '@azure/functions';
import { problemContentType } from '../http/problem.js';
import type { Services } from './container.js';

type CheckName = 'postgres' | 'redis' | 'rabbitmq';
const timeoutMs = 2_000;

function withTimeout(work: Promise<unknown>): Promise<'ok' | 'unavailable'> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<'unavailable'>((resolve) => (timer = setTimeout(() => resolve('unavailable'), timeoutMs)));
  return Promise.race([work.then(() => 'ok' as const, () => 'unavailable' as const), timeout]).finally(() => clearTimeout(timer));
}

/** GET /api/health: each dependency checked in parallel with a 2 s bound; 503 names the ones down. */
export async function checkHealth(s: Pick<Services, 'db' | 'redis' | 'publisher'>): Promise<HttpResponseInit> {
  const [postgres, redis, rabbitmq] = await Promise.all([
    withTimeout(s.db.query('SELECT 1')),
    withTimeout(s.redis.ping()),
    withTimeout(s.publisher.check()),
  ]);
  const checks: Record<CheckName, 'ok' | 'unavailable'> = { postgres, redis, rabbitmq };
  const down = (Object.keys(checks) as CheckName[]).filter((name) => checks[name] !== 'ok');
  if (down.length === 0) return { status: 200, headers: { 'cache-control': 'no-store' }, jsonBody: { status: 'ok', checks } };
  return {
    status: 503,
    headers: { 'content-type': problemContentType, 'cache-control': 'no-store', 'retry-after': '5' },
    body: JSON.stringify({
      type: 'about:blank',
      title: 'Service unavailable',
      status: 503,
      detail: `Unavailable: ${down.join(', ')}`,
      code: 'dependency_unavailable',
      checks,
    }),
  };
}
