import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
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

/** Accepts OTLP/HTTP on a free port and keeps the raw bodies (the app's exported log records among them). */
async function otlpSink(): Promise<{ url: string; bodies: { path: string; body: string }[]; close(): Promise<void> }> {
  const bodies: { path: string; body: string }[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      bodies.push({ path: req.url ?? '', body: Buffer.concat(chunks).toString('utf8') });
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    bodies,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

const jsonLines = (output: string): LogLine[] =>
  output
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as LogLine);

describe('structured logs through the local host', () => {
  let shop: Shop;
  let sink: Awaited<ReturnType<typeof otlpSink>>;

  beforeAll(async () => {
    sink = await otlpSink();
    shop = await startShop({ env: { OTEL_EXPORTER_OTLP_ENDPOINT: sink.url, OTEL_BLRP_SCHEDULE_DELAY: '200', OTEL_BSP_SCHEDULE_DELAY: '200' } });
  });

  afterAll(async () => {
    await shop?.stop();
    await sink?.close();
  });

  it('when requests carrying real tokens fail, then each is logged with its trace and span ids and no line holds a token or a credential', async () => {
    const token = await shop.token();
    const tampered = `${token.slice(0, -4)}AAAA`;
    const appToken = await shop.token({ roles: [] });
    const traceId = randomBytes(16).toString('hex');
    const traceparent = `00-${traceId}-${randomBytes(8).toString('hex')}-01`;

    const refused = await Promise.all([
      shop.call('/cart/items', { method: 'POST', token, body: { productId: 42, quantity: -1 } }),
      shop.call('/cart', { token: tampered, headers: { traceparent } }),
      shop.call('/products', { method: 'POST', token: appToken, body: { name: 'x', price: 1, stock: 1 } }),
    ]);
    expect(refused.map((r) => r.status)).toEqual([400, 401, 403]);

    // Log lines are written synchronously by the app; the OTLP log batch follows within a second or so.
    const exportedLogs = () => sink.bodies.filter((b) => b.path === '/v1/logs').map((b) => b.body).join('\n');
    for (let waited = 0; !exportedLogs().includes('"shop-functions"') || (exportedLogs().match(/request refused/g) ?? []).length < 3; waited += 100) {
      if (waited > 15_000) throw new Error('the log records were not exported');
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const output = shop.host.output();
    const lines = jsonLines(output);
    const refusals = lines.filter((line) => line.msg === 'request refused');
    expect(refusals.map((line) => line.status).sort()).toEqual(expect.arrayContaining([400, 401, 403]));

    // The 401 continued the caller's trace (the host passes traceparent as the invocation's trace context).
    expect(refusals.find((line) => line.status === 401)).toMatchObject({ traceId, function: 'getCart', route: '/api/cart' });

    // Every line written inside an invocation names it and carries W3C ids.
    const inInvocations = lines.filter((line) => line.invocationId);
    expect(inInvocations.length).toBeGreaterThanOrEqual(3);
    for (const line of inInvocations) {
      expect(line.traceId, JSON.stringify(line)).toMatch(/^[0-9a-f]{32}$/);
      expect(line.spanId, JSON.stringify(line)).toMatch(/^[0-9a-f]{16}$/);
      expect(line.function).toBeTruthy();
    }

    // Nothing secret anywhere: not in the console output, not in any exported signal; and no
    // connection string in a log line (spans may name a server as redis://host:port, never with credentials).
    const exported = sink.bodies.map((b) => b.body).join('\n');
    for (const text of [output, exported]) {
      for (const secret of [token, tampered, appToken, token.split('.')[2]!, tampered.split('.')[2]!, 'postgres:postgres', 'guest:guest']) {
        expect(text.includes(secret), `found ${secret.slice(0, 24)}...`).toBe(false);
      }
      expect(text).not.toMatch(/InstrumentationKey=[0-9a-f-]{8}/i);
    }
    for (const text of [output, exportedLogs()]) expect(text).not.toMatch(/(amqps?|postgres(ql)?|rediss?):\/\//);
  });
});
