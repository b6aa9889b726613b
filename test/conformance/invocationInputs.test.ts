import { randomUUID } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ConsumeMessage } from 'amqplib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RpcInvocationRequest, RpcTypedData } from '../../src/host/coreTypes.js';
import { httpInvocationRequest } from '../../src/host/httpTrigger.js';
import { rabbitMqInvocationRequest } from '../../src/host/rabbitMqTrigger.js';
import { timerInvocationRequest } from '../../src/host/timerTrigger.js';
import { devIssuerSettings, startDevIssuer, type DevIssuer } from '../../src/dev-issuer/index.js';
import { uuidv7 } from '../../src/domain/ids.js';
import { CollectorStub, kind } from '../support/collector.js';
import { RabbitTestClient } from '../support/rabbit.js';
import { httpRequest, rabbitMqRequest, timerRequest, type HttpFixture, type RabbitMqFixture } from './fixtures.js';
import { invokeApp } from './harness.js';
import type { HarnessOutput, InvocationResult } from './wire.js';

type Request = Omit<RpcInvocationRequest, 'invocationId'>;

/** One invocation of the scenario: the function, its input in each shape, and the log calls it makes. */
interface Case {
  name: string;
  functionName: string;
  realHost: Request;
  standIn: Request;
  spanKind: number;
  /** The app's log calls during the invocation, in order; undefined when it depends on shared state. */
  logs?: string[];
}

const missingProperties = 'the host delivered no message properties (azure-functions-rabbitmq-extension#119); event types are read from the bodies and trace links are lost';

/** The stand-in's HTTP input for the same request (src/host/httpTrigger.ts). */
function standInHttp({ method, path, headers = {}, params = {}, body }: HttpFixture): Request {
  const allHeaders = { host: 'localhost:7071', 'user-agent': 'conformance-test', ...(body ? { 'content-length': String(Buffer.byteLength(body)) } : {}), ...headers };
  return httpInvocationRequest('trigger', { method, url: `http://localhost:7071/api/${path}`, headers: allHeaders, params, body: Buffer.from(body ?? '') });
}

/** The stand-in's RabbitMQ input for the same delivery (src/host/rabbitMqTrigger.ts), with or without properties. */
function standInRabbitMq({ body, routingKey, properties }: RabbitMqFixture): Request {
  const message = {
    content: Buffer.from(body),
    fields: { consumerTag: 'amq.ctag-standin', deliveryTag: 1, redelivered: false, exchange: 'shop.events', routingKey },
    properties: { contentType: 'application/json', deliveryMode: 2, appId: 'shop-functions', messageId: properties?.messageId, type: properties?.type, headers: properties?.headers ?? {} },
  } as unknown as ConsumeMessage;
  return rabbitMqInvocationRequest('trigger', message, properties ? 'json' : 'opaque');
}

function httpCase(name: string, functionName: string, fixture: HttpFixture, logs: string[]): Case {
  return { name, functionName, realHost: httpRequest(fixture), standIn: standInHttp(fixture), spanKind: kind.internal, logs };
}

function rabbitMqCase(name: string, fixture: RabbitMqFixture, logs: string[]): Case {
  return { name, functionName: 'applyPayment', realHost: rabbitMqRequest(fixture), standIn: standInRabbitMq(fixture), spanKind: kind.consumer, logs };
}

function httpResponse(result: InvocationResult) {
  const http = result.returnValue?.http as (RpcTypedData['http'] & { statusCode?: string }) | undefined;
  const body = http?.body?.bytes ? Buffer.from(http.body.bytes).toString('utf8') : (http?.body?.string ?? '');
  return { status: Number(http?.statusCode ?? 200), contentType: http?.headers?.['content-type'], body: body ? (JSON.parse(body) as Record<string, unknown>) : undefined };
}

describe('the app under invocation inputs shaped as the real Functions host sends them, and as the stand-in does', () => {
  const collector = new CollectorStub();
  let issuer: DevIssuer;
  let rabbit: RabbitTestClient;
  let cases: Case[];
  let realHost: HarnessOutput & { output: string };
  let standIn: HarnessOutput & { output: string };
  const undeliverable = JSON.stringify({ orderId: uuidv7(), paymentId: uuidv7(), occurredAt: new Date().toISOString() });

  beforeAll(async () => {
    const endpoint = await collector.listen();
    issuer = await startDevIssuer({ dir: mkdtempSync(join(tmpdir(), 'shop-issuer-')), httpsPort: 0, httpPort: 0 });
    rabbit = await RabbitTestClient.connect();
    const authorization = `Bearer ${await issuer.mintUserToken({ user: `conformance-${randomUUID().slice(0, 8)}` })}`;
    const payment = (type?: string) => JSON.stringify({ ...(type ? { type } : {}), orderId: uuidv7(), paymentId: uuidv7(), occurredAt: new Date().toISOString() });
    const traceparent = `00-${randomUUID().replaceAll('-', '')}-${'1'.repeat(16)}-01`;

    cases = [
      httpCase('health', 'health', { method: 'GET', path: 'health' }, []),
      httpCase('an unknown path', 'zzRouteNotFound', { method: 'GET', path: 'no/such/route', params: { path: 'no/such/route' } }, ['request refused']),
      httpCase('a query string and a bearer token', 'listProducts', { method: 'GET', path: 'products?limit=1', headers: { authorization } }, []),
      httpCase('a JSON body', 'addCartItem', { method: 'POST', path: 'cart/items', headers: { authorization, 'content-type': 'application/json' }, body: JSON.stringify({ productId: randomUUID(), quantity: 1 }) }, ['request refused']),
      rabbitMqCase('a payment result with its properties', { body: payment('PaymentSucceeded'), routingKey: 'PaymentSucceeded', properties: { messageId: randomUUID(), type: 'PaymentSucceeded', headers: { traceparent } } }, ['payment result applied']),
      rabbitMqCase('a payment result without properties (#119), typed by its body', { body: payment('PaymentFailed'), routingKey: 'PaymentFailed' }, [missingProperties, 'payment result applied']),
      rabbitMqCase('a payment result without properties nor body type', { body: undeliverable, routingKey: 'PaymentSucceeded' }, ['message dead-lettered']),
      { name: 'a timer', functionName: 'outboxSweep', realHost: timerRequest(), standIn: timerInvocationRequest('trigger', '*/10 * * * * *', null), spanKind: kind.internal },
    ];
    const env = {
      POSTGRES_URL: process.env.POSTGRES_URL ?? 'postgres://postgres:postgres@127.0.0.1:5432/ecommerce',
      REDIS_URL: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379',
      RABBITMQ_URL: process.env.RABBITMQ_URL ?? 'amqp://guest:guest@127.0.0.1:5672',
      ...devIssuerSettings({ issuer: issuer.issuer, jwksUri: issuer.jwksUri }),
      OTEL_EXPORTER_OTLP_ENDPOINT: endpoint,
      OTEL_BSP_SCHEDULE_DELAY: '100',
      OTEL_BLRP_SCHEDULE_DELAY: '100',
      APPLICATIONINSIGHTS_CONNECTION_STRING: '',
    };
    // Two worker processes, one per shape, so process-wide state (the once-only #119 warning) is the same in each.
    [realHost, standIn] = await Promise.all([
      invokeApp(cases.map((c) => ({ functionName: c.functionName, request: c.realHost })), env),
      invokeApp(cases.map((c) => ({ functionName: c.functionName, request: c.standIn })), env),
    ]);
  }, 120_000);

  afterAll(async () => {
    await collector.close();
    await issuer?.close();
    await rabbit?.close();
  });

  it('when the app starts, then it declares WorkerOpenTelemetryEnabled, so the host leaves the worker logs to it', () => {
    expect(realHost.capabilities).toMatchObject({ WorkerOpenTelemetryEnabled: 'true' });
  });

  it('when every input is given in both shapes, then every invocation succeeds', () => {
    for (const run of [realHost, standIn]) expect(run.results.map((r) => [r.functionName, r.error])).toEqual(cases.map((c) => [c.functionName, undefined]));
  });

  it('when HTTP requests come as the host sends them (nullable maps, body bytes), then the answers equal the stand-in answers and the contract', () => {
    const answers = (run: HarnessOutput) => run.results.slice(0, 4).map(httpResponse);
    const real = answers(realHost);
    expect(real).toEqual(answers(standIn));
    // No listener runs here: health is 200 only while another host consumes every queue of the shared broker.
    const consumed = Object.values((real[0]!.body!.consumers ?? {}) as Record<string, unknown>).every((count) => typeof count === 'number' && count > 0);
    expect(real[0]).toMatchObject({ status: consumed ? 200 : 503, body: { checks: { postgres: 'ok', redis: 'ok', rabbitmq: 'ok' } } });
    expect(real[1]).toMatchObject({ status: 404, contentType: 'application/problem+json' });
    expect(real[2]).toMatchObject({ status: 200, body: { items: expect.any(Array) } });
    expect((real[2]!.body!.items as unknown[]).length).toBeLessThanOrEqual(1);
    expect(real[3]).toMatchObject({ status: 404, contentType: 'application/problem+json' });
  });

  it('when a payment result names its type nowhere the host delivers, then it is dead-lettered with the reason', async () => {
    // Both shapes dead-letter the same body (their log records say so); find takes every copy.
    const dead = await rabbit.find('payment-processed.dlq', (message) => message.content.toString() === undeliverable);
    expect(String(dead.properties.headers?.['x-dead-letter-reason'])).toBe('unexpected event type null; this queue takes PaymentSucceeded, PaymentFailed');
  });

  it('when each invocation ran, then it made exactly one span of its trigger kind and one log record per log call, in both shapes', async () => {
    const runs = [realHost, standIn];
    const ids = runs.flatMap((run) => run.results.map((r) => r.invocationId!));
    const invocationSpans = (id: string) => collector.spans.filter((span) => span.attributes['faas.invocation_id'] === id);
    const records = (id: string) => collector.logRecords.filter((record) => record.attributes.invocationId === id).map((record) => record.body);
    await expect.poll(() => ids.every((id) => invocationSpans(id).length > 0), { timeout: 10_000 }).toBe(true);

    for (const run of runs) {
      run.results.forEach((result, index) => {
        const testCase = cases[index]!;
        const where = `${run === realHost ? 'real host' : 'stand-in'}: ${testCase.name}`;
        const spans = invocationSpans(result.invocationId!);
        expect(spans.map((span) => span.kind), where).toEqual([testCase.spanKind]);
        const logged = records(result.invocationId!);
        if (testCase.logs) expect(logged, where).toEqual(testCase.logs);
        else expect(new Set(logged).size, where).toBe(logged.length);
        // Every record of the invocation is in its span's trace.
        for (const record of collector.logRecords.filter((r) => r.attributes.invocationId === result.invocationId)) expect(record.traceId, where).toBe(spans[0]!.traceId);
      });
      // One sink: nothing the app logged went to stdout as well.
      expect(run.output.split('\n').filter((line) => line.startsWith('{"time"'))).toEqual([]);
    }
  });

  it('when the message carried a traceparent, then its consumer span continues that trace; without properties, it starts its own', () => {
    const withProperties = cases[4]!.realHost.triggerMetadata!.BasicProperties!.json!;
    const traceparent = Buffer.from((JSON.parse(withProperties) as { Headers: { traceparent: string } }).Headers.traceparent, 'base64').toString();
    const spanOf = (run: HarnessOutput, index: number) => collector.spans.find((span) => span.attributes['faas.invocation_id'] === run.results[index]!.invocationId)!;
    for (const run of [realHost, standIn]) {
      expect(spanOf(run, 4).traceId).toBe(traceparent.split('-')[1]);
      expect(spanOf(run, 5).traceId).not.toBe(traceparent.split('-')[1]);
    }
  });
});
