import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CollectorStub, kind, type ReceivedSpan } from '../support/collector.js';
import { addToCart, createProduct, waitForFinalOrder } from '../support/pipeline.js';
import { startShop, type Shop } from '../support/shop.js';

async function waitFor<T>(what: string, probe: () => T | undefined, timeoutMs = 20_000, explain: () => string = () => ''): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${explain()}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

const isPostgres = (s: ReceivedSpan) => s.attributes['db.system'] === 'postgresql' || s.attributes['db.system.name'] === 'postgresql';
const isRedis = (s: ReceivedSpan) => s.attributes['db.system'] === 'redis' || s.attributes['db.system.name'] === 'redis';

describe('one trace per checkout, through the Functions host with OTLP export', () => {
  const collector = new CollectorStub();
  let shop: Shop;

  beforeAll(async () => {
    const endpoint = await collector.listen();
    shop = await startShop({
      env: { OTEL_EXPORTER_OTLP_ENDPOINT: endpoint, OTEL_BSP_SCHEDULE_DELAY: '200', OTEL_BLRP_SCHEDULE_DELAY: '200', OTEL_METRIC_EXPORT_INTERVAL: '1000' },
    });
  });

  afterAll(async () => {
    await shop?.stop();
    await collector.close();
  });

  it('when a cart is checked out and paid, then every span from the request to the PAID update shares one trace id and forms one tree', async () => {
    const productId = await createProduct(shop, { price: 3.5, stock: 10 });
    const token = await shop.token();
    await addToCart(shop, token, productId, 2);
    const response = await shop.call('/cart/checkout', { method: 'POST', token });
    expect(response.status).toBe(202);
    const { orderId, checkoutId } = (await response.json()) as { orderId: string; checkoutId: string };
    expect((await waitForFinalOrder(shop, token, orderId)).status).toBe('PAID');

    // The app's invocation span, an INTERNAL child of the host's request span (the one request record).
    const checkout = await waitFor('the checkout invocation span', () => collector.spans.find((s) => s.attributes['faas.name'] === 'checkout' && s.attributes.checkoutId === checkoutId));
    expect(checkout).toMatchObject({ kind: kind.internal, name: 'POST /api/cart/checkout', attributes: { 'faas.trigger': 'http', 'http.response.status_code': 202, orderId } });
    expect(checkout.resource['service.name']).toBe('shop-functions');
    const traceId = checkout.traceId;
    const request = await waitFor('the host\'s request span', () => collector.spans.find((s) => s.spanId === checkout.parentSpanId));
    expect(request).toMatchObject({
      kind: kind.server,
      name: 'POST',
      traceId,
      attributes: { 'http.request.method': 'POST', 'url.path': '/api/cart/checkout', 'http.response.status_code': 202, 'faas.name': 'checkout', 'faas.trigger': 'http' },
    });

    const queues = ['cart-checked-out', 'order-created', 'payment-processed'];
    const consumers = await waitFor('the three consumer spans with their database work', () => {
      const inTrace = collector.spans.filter((s) => s.traceId === traceId);
      const found = queues.map((queue) => inTrace.find((s) => s.kind === kind.consumer && s.attributes['messaging.destination.name'] === queue));
      if (found.some((s) => !s)) return undefined;
      // Child spans end (and are exported) before their parents; wait for the last consumer's queries too.
      return found.every((c) => inTrace.some((s) => s.parentSpanId === c!.spanId && isPostgres(s))) ? (found as ReceivedSpan[]) : undefined;
    }, 20_000, () => `; spans of the trace:\n${collector.spans.filter((s) => s.traceId === traceId).map((s) => `${s.spanId} <- ${s.parentSpanId ?? '-'} ${s.kind} ${s.name}`).join('\n')}`);
    await new Promise((resolve) => setTimeout(resolve, 500)); // any straggler of the same batch
    const spans = collector.spans.filter((s) => s.traceId === traceId);

    // One tree: exactly one root, the host's request span (the only SERVER span: one request record in
    // Application Insights), every other span's parent in the trace.
    const ids = new Set(spans.map((s) => s.spanId));
    const roots = spans.filter((s) => !s.parentSpanId || !ids.has(s.parentSpanId));
    expect(roots.map((s) => s.spanId)).toEqual([request.spanId]);
    expect(request.parentSpanId ?? '').toBe('');
    expect(spans.filter((s) => s.kind === kind.server).map((s) => s.spanId)).toEqual([request.spanId]);
    expect(ids.size).toBe(spans.length);

    // Every hop: consumer <- PRODUCER span <- the previous invocation; each consumer carries the order id.
    const byId = new Map(spans.map((s) => [s.spanId, s]));
    const expectedPublisher = [checkout, consumers[0]!, consumers[1]!];
    consumers.forEach((consumer, i) => {
      expect(consumer.attributes).toMatchObject({ 'messaging.system': 'rabbitmq', 'faas.trigger': 'pubsub', orderId });
      const producer = byId.get(consumer.parentSpanId!)!;
      expect(producer.kind).toBe(kind.producer);
      expect(producer.parentSpanId).toBe(expectedPublisher[i]!.spanId);
    });
    expect(byId.get(consumers[2]!.parentSpanId!)!.attributes['messaging.rabbitmq.destination.routing_key']).toBe('PaymentSucceeded');

    // Instrumented clients under the invocations: Redis (cart, idempotency) in the checkout, Postgres in every consumer.
    expect(spans.some((s) => isRedis(s) && s.parentSpanId === checkout.spanId)).toBe(true);
    const paidUpdate = spans.filter((s) => s.parentSpanId === consumers[2]!.spanId && isPostgres(s)).map((s) => String(s.attributes['db.statement'] ?? s.attributes['db.query.text'] ?? ''));
    expect(paidUpdate.some((sql) => /UPDATE orders/i.test(sql))).toBe(true);

    // Logs of the same invocations reach the collector with the trace id; the business metrics are exported.
    await waitFor('log records of the trace', () => (collector.logRecords.some((r) => r.traceId === traceId && r.attributes.orderId === orderId) ? true : undefined));
    const metricNames = [
      'shop.checkouts.accepted',
      'shop.orders.completed',
      'shop.checkout.duration',
      'shop.outbox.backlog',
      'shop.orders.oldest_pending_age_seconds',
      'shop.queue.dead_letter_depth',
      'shop.queue.consumers',
      'http.server.request.duration',
    ];
    await waitFor('the business metrics', () => (metricNames.every((name) => collector.metricNames.has(name)) ? true : undefined));
  });

  it('when the host ran those invocations, then each made one invocation span, each HTTP request one SERVER span with the app span under it, and each log call one record, not a console line too', () => {
    const spansPerInvocation = new Map<string, number>();
    for (const span of collector.spans) {
      const invocationId = span.attributes['faas.invocation_id'];
      if (invocationId) spansPerInvocation.set(String(invocationId), (spansPerInvocation.get(String(invocationId)) ?? 0) + 1);
    }
    expect(spansPerInvocation.size).toBeGreaterThanOrEqual(4); // the checkout and the three consumers at least
    for (const [invocationId, count] of spansPerInvocation) expect(count, invocationId).toBe(1);
    // Every HTTP invocation (product, cart, checkout, order polls): an INTERNAL span whose parent is its
    // request's SERVER span, the only SERVER span of that trace; no other SERVER span anywhere.
    const httpInvocations = collector.spans.filter((s) => s.attributes['faas.invocation_id'] && s.attributes['faas.trigger'] === 'http');
    expect(httpInvocations.length).toBeGreaterThanOrEqual(4);
    const serverSpans = collector.spans.filter((s) => s.kind === kind.server);
    for (const invocation of httpInvocations) {
      const where = `${invocation.name} ${String(invocation.attributes['faas.invocation_id'])}`;
      expect(serverSpans.filter((s) => s.traceId === invocation.traceId).map((s) => s.spanId), where).toEqual([invocation.parentSpanId]);
      expect(invocation.kind, where).toBe(kind.internal);
    }
    // Every request to the app's routes (the host's own /admin paths invoke nothing) has its invocation under it.
    const appRequests = serverSpans.filter((s) => String(s.attributes['url.path']).startsWith('/api/'));
    expect(appRequests.filter((server) => !httpInvocations.some((invocation) => invocation.parentSpanId === server.spanId))).toEqual([]);
    // Every log call of these invocations is a distinct message; a second copy would be a duplicate.
    const records = collector.logRecords.filter((r) => r.attributes.invocationId).map((r) => `${String(r.attributes.invocationId)} ${r.body}`);
    expect(records.length).toBeGreaterThan(0);
    expect(new Set(records).size).toBe(records.length);
    expect(shop.host.output().split('\n').filter((line) => line.startsWith('{"time"'))).toEqual([]);
  });
});
