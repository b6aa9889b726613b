import { describe, expect, it } from 'vitest';
import { checkHealth } from '../../src/app/health.js';

const queues = ['cart-checked-out', 'payment-processed'];

function services(options: { consumers?: Record<string, number | 'missing'>; redisDown?: boolean; brokerDown?: boolean } = {}) {
  const answer = (down = false) => (down ? Promise.reject(new Error('down')) : Promise.resolve());
  return {
    db: { query: () => answer() },
    redis: { ping: () => answer(options.redisDown) },
    publisher: { check: () => answer(options.brokerDown) },
    queueMonitor: { consumerCounts: () => (options.brokerDown ? Promise.reject(new Error('down')) : Promise.resolve(options.consumers ?? { 'cart-checked-out': 1, 'payment-processed': 2 })) },
  } as unknown as Parameters<typeof checkHealth>[0];
}

const bodyOf = (response: Awaited<ReturnType<typeof checkHealth>>) => (response.jsonBody ?? JSON.parse(String(response.body))) as Record<string, unknown>;

describe('checkHealth', () => {
  it('when every dependency answers and every queue has a consumer, then 200 with the contract checks and the consumer counts', async () => {
    const response = await checkHealth(services(), queues);
    expect(response.status).toBe(200);
    expect(bodyOf(response)).toEqual({ status: 'ok', checks: { postgres: 'ok', redis: 'ok', rabbitmq: 'ok' }, consumers: { 'cart-checked-out': 1, 'payment-processed': 2 } });
  });

  it('when a queue has no consumer, then 503 names that queue', async () => {
    const response = await checkHealth(services({ consumers: { 'cart-checked-out': 1, 'payment-processed': 0 } }), queues);
    expect(response.status).toBe(503);
    expect(bodyOf(response)).toMatchObject({ detail: 'No consumer on queue: payment-processed', code: 'consumer_missing', checks: { rabbitmq: 'ok' } });
  });

  it('when a dependency is down and a queue is unconsumed, then 503 names both', async () => {
    const response = await checkHealth(services({ redisDown: true, consumers: { 'cart-checked-out': 'missing', 'payment-processed': 1 } }), queues);
    expect(bodyOf(response)).toMatchObject({ detail: 'Unavailable: redis; No consumer on queue: cart-checked-out', code: 'dependency_unavailable' });
  });

  it('when the broker is down, then 503 names rabbitmq and reports no consumer counts', async () => {
    const body = bodyOf(await checkHealth(services({ brokerDown: true }), queues));
    expect(body).toMatchObject({ detail: 'Unavailable: rabbitmq', checks: { postgres: 'ok', redis: 'ok', rabbitmq: 'unavailable' } });
    expect(body).not.toHaveProperty('consumers');
  });
});
