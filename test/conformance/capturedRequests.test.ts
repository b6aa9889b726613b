import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ConsumeMessage } from 'amqplib';
import { beforeAll, describe, expect, it } from 'vitest';
import type { RpcInvocationRequest, RpcTypedData } from '../../src/host/coreTypes.js';
import { httpInvocationRequest } from '../../src/host/httpTrigger.js';
import { rabbitMqInvocationRequest } from '../../src/host/rabbitMqTrigger.js';
import { timerInvocationRequest } from '../../src/host/timerTrigger.js';
import { devIssuerSettings } from '../../src/dev-issuer/index.js';
import { invokeApp } from './harness.js';
import { fromWire, type HarnessOutput, type InvocationResult } from './wire.js';

type Request = Omit<RpcInvocationRequest, 'invocationId'>;

/** An InvocationRequest the real host sent (captured/README.md). */
const captured = (name: string): Request => {
  const { invocationId: _, ...request } = fromWire(JSON.parse(readFileSync(join(import.meta.dirname, 'captured', `${name}.json`), 'utf8'))) as RpcInvocationRequest;
  return request;
};
const metadataJson = (request: Request, name: string) => JSON.parse(request.triggerMetadata![name]!.json!) as Record<string, unknown>;
const http = (request: Request) => request.inputData![0]!.data!.http!;
const nullableValues = (map: Record<string, { value?: string | null }> | null | undefined) => Object.fromEntries(Object.entries(map ?? {}).map(([key, { value }]) => [key, value ?? '']));

function httpAnswer(result: InvocationResult) {
  const answer = result.returnValue?.http as (RpcTypedData['http'] & { statusCode?: string }) | undefined;
  const body = answer?.body?.bytes ? Buffer.from(answer.body.bytes).toString('utf8') : (answer?.body?.string ?? '');
  return { status: Number(answer?.statusCode ?? 200), contentType: answer?.headers?.['content-type'], body: body ? (JSON.parse(body) as Record<string, unknown>) : undefined };
}

/** The stand-in's request for the same input as a captured one (src/host/*Trigger.ts). */
function standInFor(name: string, real: Request): Request {
  if (name === 'applyPayment') {
    const properties = metadataJson(real, 'BasicProperties') as { MessageId: string; Type: string; AppId: string; ContentType: string; DeliveryMode: number; Headers: Record<string, string> };
    const message = {
      content: Buffer.from(real.inputData![0]!.data!.string!),
      fields: { consumerTag: 'amq.ctag-standin', deliveryTag: 1, redelivered: false, exchange: 'shop.events', routingKey: real.triggerMetadata!.RoutingKey!.string },
      properties: {
        messageId: properties.MessageId,
        type: properties.Type,
        appId: properties.AppId,
        contentType: properties.ContentType,
        deliveryMode: properties.DeliveryMode,
        headers: Object.fromEntries(Object.entries(properties.Headers).map(([key, value]) => [key, Buffer.from(value, 'base64').toString()])),
      },
    } as unknown as ConsumeMessage;
    return rabbitMqInvocationRequest('trigger', message, 'json');
  }
  if (name === 'outboxSweep') return timerInvocationRequest('trigger', '0,10,20,30,40,50 * * * * *', null);
  const request = http(real);
  return httpInvocationRequest('trigger', { method: request.method!, url: request.url!, headers: nullableValues(request.nullableHeaders), params: nullableValues(request.nullableParams), body: Buffer.alloc(0) });
}

const cases = [
  { name: 'health', functionName: 'health' },
  { name: 'routeNotFound', functionName: 'zzRouteNotFound' },
  { name: 'applyPayment', functionName: 'applyPayment' },
  { name: 'outboxSweep', functionName: 'outboxSweep' },
];

describe('InvocationRequests captured from the real Functions host, and the stand-in beside them', () => {
  const real = Object.fromEntries(cases.map(({ name }) => [name, captured(name)]));
  let realRun: HarnessOutput & { output: string };
  let standInRun: HarnessOutput & { output: string };

  beforeAll(async () => {
    const env = {
      POSTGRES_URL: process.env.POSTGRES_URL ?? 'postgres://postgres:postgres@127.0.0.1:5432/ecommerce',
      REDIS_URL: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379',
      RABBITMQ_URL: process.env.RABBITMQ_URL ?? 'amqp://guest:guest@127.0.0.1:5672',
      ...devIssuerSettings({ issuer: 'https://localhost:7443/conformance/v2.0', jwksUri: 'http://127.0.0.1:9/keys' }),
      OTEL_EXPORTER_OTLP_ENDPOINT: '',
      APPLICATIONINSIGHTS_CONNECTION_STRING: '',
    };
    [realRun, standInRun] = await Promise.all([
      invokeApp(cases.map(({ name, functionName }) => ({ functionName, request: real[name]! })), env),
      invokeApp(cases.map(({ name, functionName }) => ({ functionName, request: standInFor(name, real[name]!) })), env),
    ]);
  }, 120_000);

  it('when the app is given what the real host sent, then every invocation succeeds, and so does the stand-in shape of each', () => {
    for (const run of [realRun, standInRun]) expect(run.results.map((r) => [r.functionName, r.error])).toEqual(cases.map((c) => [c.functionName, undefined]));
  });

  it('when the HTTP requests are answered, then the real and stand-in shapes get the same answers', () => {
    const answers = (run: HarnessOutput) => run.results.slice(0, 2).map(httpAnswer);
    expect(answers(realRun)).toEqual(answers(standInRun));
    expect(answers(realRun)[1]).toMatchObject({ status: 404, contentType: 'application/problem+json', body: { code: 'not_found' } });
  });

  it('when the real host delivers a RabbitMQ message, then its properties arrive as a JSON object, not the #119 string, and the app reads them', () => {
    expect(metadataJson(real.applyPayment!, 'BasicProperties')).toMatchObject({ MessageId: 'capture-1', Type: 'PaymentSucceeded', ProtocolClassId: 60 });
    expect(realRun.output).not.toContain('azure-functions-rabbitmq-extension#119');
  });

  it("when the stand-in builds the same delivery, then it sends the same properties, and each metadata name the real host sends but Body and the body's fields", () => {
    const realNames = Object.keys(real.applyPayment!.triggerMetadata!);
    const standIn = standInFor('applyPayment', real.applyPayment!);
    const bodyFields = Object.keys(JSON.parse(real.applyPayment!.inputData![0]!.data!.string!) as object);
    expect(realNames.filter((name) => !(name in standIn.triggerMetadata!)).sort()).toEqual(['Body', ...bodyFields].sort());
    const realProperties = Object.keys(metadataJson(real.applyPayment!, 'BasicProperties'));
    const standInProperties = Object.keys(metadataJson(standIn, 'BasicProperties'));
    expect(standInProperties).toEqual(realProperties);
    expect(metadataJson(standIn, 'BasicProperties')).toEqual({ ...metadataJson(real.applyPayment!, 'BasicProperties') });
    // The host's invocation has no trace context for a RabbitMQ message (the extension's activity is not one it listens to); the stand-in's neither.
    expect(real.applyPayment!.traceContext?.traceParent).toBe('');
    expect(standIn.traceContext?.traceParent ?? '').toBe('');
  });

  it("when the real host invokes HTTP and timer functions, then the HTTP trace context is the host's request activity and the timer's is empty", () => {
    expect(real.routeNotFound!.traceContext?.traceParent).toMatch(/^00-0af7651916cd43dd8448eb211c80319c-[0-9a-f]{16}-01$/);
    expect(real.outboxSweep!.traceContext?.traceParent).toBe('');
    expect(JSON.parse(real.outboxSweep!.inputData![0]!.data!.json!)).toEqual({ Schedule: { AdjustForDST: true }, ScheduleStatus: null, IsPastDue: false });
  });
});
