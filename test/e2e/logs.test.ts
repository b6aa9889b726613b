import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CollectorStub } from '../support/collector.js';
import { startShop, type Shop } from '../support/shop.js';

interface LogLine {
  level: string;
  msg: string;
  traceId?: string;
  spanId?: string;
  function?: string;
  invocationId?: string;
  [field: string]: unknown;
}

const jsonLines = (output: string): LogLine[] =>
  output
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as LogLine);

const traceparentOf = (traceId: string) => `00-${traceId}-${randomBytes(8).toString('hex')}-01`;

/** Three refused calls: a 400, a 401 continuing the caller's trace, a 403. */
async function refusedCalls(shop: Shop, traceId: string): Promise<{ statuses: number[]; secrets: string[] }> {
  const token = await shop.token();
  const tampered = `${token.slice(0, -4)}AAAA`;
  const appToken = await shop.token({ roles: [] });
  const refused = await Promise.all([
    shop.call('/cart/items', { method: 'POST', token, body: { productId: 42, quantity: -1 } }),
    shop.call('/cart', { token: tampered, headers: { traceparent: traceparentOf(traceId) } }),
    shop.call('/products', { method: 'POST', token: appToken, body: { name: 'x', price: 1, stock: 1 } }),
  ]);
  return { statuses: refused.map((r) => r.status), secrets: [token, tampered, appToken, token.split('.')[2]!, tampered.split('.')[2]!, 'postgres:postgres', 'guest:guest'] };
}

function expectNoSecret(texts: string[], secrets: string[]): void {
  for (const text of texts) {
    for (const secret of secrets) expect(text.includes(secret), `found ${secret.slice(0, 24)}...`).toBe(false);
    expect(text).not.toMatch(/InstrumentationKey=[0-9a-f-]{8}/i);
  }
}

describe('structured logs with OpenTelemetry export on: log records only, not stdout as well', () => {
  const collector = new CollectorStub();
  let shop: Shop;

  beforeAll(async () => {
    const endpoint = await collector.listen();
    shop = await startShop({ env: { OTEL_EXPORTER_OTLP_ENDPOINT: endpoint, OTEL_BLRP_SCHEDULE_DELAY: '200', OTEL_BSP_SCHEDULE_DELAY: '200' } });
  });

  afterAll(async () => {
    await shop?.stop();
    await collector.close();
  });

  it('when requests carrying real tokens fail, then each is one exported record with its trace and span ids, and no record or line holds a secret', async () => {
    const traceId = randomBytes(16).toString('hex');
    const { statuses, secrets } = await refusedCalls(shop, traceId);
    expect(statuses).toEqual([400, 401, 403]);

    const refusals = () => collector.logRecords.filter((record) => record.body === 'request refused' && record.scope === 'shop-functions');
    await expect.poll(() => refusals().length, { timeout: 15_000 }).toBeGreaterThanOrEqual(3);
    expect(refusals().map((record) => record.attributes.status).sort()).toEqual([400, 401, 403]);
    // The 401 continued the caller's trace (the host passes traceparent as the invocation's trace context).
    expect(refusals().find((record) => record.attributes.status === 401)).toMatchObject({ traceId, attributes: { function: 'getCart', route: '/api/cart' } });

    for (const record of collector.logRecords.filter((r) => r.attributes.invocationId)) {
      expect(record.traceId, JSON.stringify(record)).toMatch(/^[0-9a-f]{32}$/);
      expect(record.spanId, JSON.stringify(record)).toMatch(/^[0-9a-f]{16}$/);
      expect(record.attributes.function).toBeTruthy();
    }
    // One sink: the Functions host would export stdout lines a second time.
    expect(jsonLines(shop.host.output()).filter((line) => line.msg)).toEqual([]);

    expectNoSecret([shop.host.output(), collector.rawBodies.join('\n')], secrets);
    const exportedLogs = JSON.stringify(collector.logRecords);
    expect(exportedLogs).not.toMatch(/(amqps?|postgres(ql)?|rediss?):\/\//);
  });
});

describe('structured logs with export off: JSON lines on stdout', () => {
  let shop: Shop;
  beforeAll(async () => {
    shop = await startShop({ env: { OTEL_EXPORTER_OTLP_ENDPOINT: '', APPLICATIONINSIGHTS_CONNECTION_STRING: '' } });
  });
  afterAll(() => shop?.stop());

  it('when requests fail, then each is one line naming its invocation, the traced one with its W3C ids, and no line holds a secret', async () => {
    const traceId = randomBytes(16).toString('hex');
    const { secrets } = await refusedCalls(shop, traceId);
    const refusals = () => jsonLines(shop.host.output()).filter((line) => line.msg === 'request refused');
    await expect.poll(() => refusals().length, { timeout: 5_000 }).toBe(3);
    expect(refusals().map((line) => line.status).sort()).toEqual([400, 401, 403]);
    // No span without export: the ids are the caller's trace context, as the host passed it.
    expect(refusals().find((line) => line.status === 401)).toMatchObject({ traceId, spanId: expect.stringMatching(/^[0-9a-f]{16}$/), function: 'getCart', route: '/api/cart' });
    for (const line of refusals()) expect(line.invocationId).toBeTruthy();
    expectNoSecret([shop.host.output()], secrets);
    expect(shop.host.output()).not.toMatch(/(amqps?|postgres(ql)?|rediss?):\/\//);
  });
});
