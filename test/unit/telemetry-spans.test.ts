import { SpanKind, trace } from '@opentelemetry/api';
import { HttpRequest, InvocationContext, PostInvocationContext, PreInvocationContext } from '@azure/functions';
import { node, tracing } from '@opentelemetry/sdk-node';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { invocationHooks } from '../../src/adapters/telemetry/invocation.js';
import { startProducerSpan } from '../../src/adapters/telemetry/messaging.js';
import { currentScope } from '../../src/adapters/telemetry/scope.js';
import { resetOpenTelemetry } from '../support/openTelemetry.js';

const parentTraceId = '4bf92f3577b34da6a3ce929d0e0e4736';
const parentSpanId = '00f067aa0ba902b7';
const traceparent = `00-${parentTraceId}-${parentSpanId}-01`;


describe('invocation spans and producer spans', () => {
  const exporter = new tracing.InMemorySpanExporter();
  const provider = new node.NodeTracerProvider({ spanProcessors: [new tracing.SimpleSpanProcessor(exporter)] });

  beforeAll(() => provider.register());
  afterEach(() => exporter.reset());
  afterAll(async () => {
    await provider.shutdown();
    resetOpenTelemetry();
  });

  async function invoke(hooks: ReturnType<typeof invocationHooks>, ic: InvocationContext, inputs: unknown[], handler: (...args: unknown[]) => unknown) {
    const pre = new PreInvocationContext({ invocationContext: ic, inputs, functionCallback: handler as never, hookData: {} });
    hooks.preInvocation(pre);
    let result: unknown;
    let error: unknown;
    try {
      result = await pre.functionHandler(...(pre.inputs as [never, never]));
    } catch (err) {
      error = err;
    }
    hooks.postInvocation(new PostInvocationContext({ invocationContext: ic, inputs, result, error, hookData: pre.hookData }));
  }

  const rabbitContext = () =>
    new InvocationContext({
      functionName: 'placeOrder',
      invocationId: 'inv-1',
      options: { trigger: { type: 'rabbitMQTrigger', name: 'message', queueName: 'cart-checked-out' } as never, extraInputs: [], extraOutputs: [] },
      // As the extension sends it: string header values base64-encoded.
      triggerMetadata: { basicProperties: { messageId: 'msg-1', headers: { traceparent: Buffer.from(traceparent).toString('base64') } }, routingKey: 'CartCheckedOut' },
    });

  it("when a RabbitMQ message carries a traceparent, then the handler runs in a CONSUMER span whose parent is the message's context", async () => {
    let inside: { traceId?: string; spanId?: string; scope?: string } = {};
    await invoke(invocationHooks({ tracing: true }), rabbitContext(), [{}], () => {
      const ids = trace.getActiveSpan()?.spanContext();
      inside = { traceId: ids?.traceId, spanId: ids?.spanId, scope: currentScope()?.traceId };
    });
    const [span] = exporter.getFinishedSpans();
    expect(span).toBeDefined();
    expect(span!.kind).toBe(SpanKind.CONSUMER);
    expect(span!.name).toBe('process cart-checked-out');
    expect(span!.spanContext().traceId).toBe(parentTraceId);
    expect(span!.parentSpanContext?.spanId).toBe(parentSpanId);
    expect(span!.attributes).toMatchObject({
      'messaging.system': 'rabbitmq',
      'messaging.destination.name': 'cart-checked-out',
      'messaging.message.id': 'msg-1',
      'faas.trigger': 'pubsub',
      'faas.invocation_id': 'inv-1',
    });
    expect(inside).toEqual({ traceId: parentTraceId, spanId: span!.spanContext().spanId, scope: parentTraceId });
  });

  it("when an HTTP handler fails, then its INTERNAL span under the host's request span records the error and a 500, and no second SERVER span is made", async () => {
    const ic = new InvocationContext({
      functionName: 'checkout',
      invocationId: 'inv-2',
      traceContext: { traceParent: traceparent, traceState: 'congo=t61rcWkgMzE', attributes: {} },
      options: { trigger: { type: 'httpTrigger', name: 'request', route: 'cart/checkout', methods: ['POST'] } as never, extraInputs: [], extraOutputs: [] },
    });
    const request = new HttpRequest({ method: 'POST', url: 'http://localhost/api/cart/checkout?secret=x' });
    await invoke(invocationHooks({ tracing: true }), ic, [request, ic], () => {
      throw new Error('boom');
    });
    const [span] = exporter.getFinishedSpans();
    expect(exporter.getFinishedSpans()).toHaveLength(1);
    expect(span!.kind).toBe(SpanKind.INTERNAL);
    expect(span!.name).toBe('POST /api/cart/checkout');
    expect(span!.parentSpanContext?.spanId).toBe(parentSpanId);
    expect(span!.status.code).toBe(2);
    expect(span!.attributes).toMatchObject({ 'http.route': '/api/cart/checkout', 'http.response.status_code': 500 });
    // The host's request span holds the method and URL; on this span they would make it an HTTP dependency in Application Insights.
    expect(span!.attributes['http.request.method']).toBeUndefined();
    expect(JSON.stringify(span!.attributes)).not.toContain('secret');
    expect(span!.events.map((e) => e.name)).toContain('exception');
  });

  it('when tracing is off, then no span is made but the handler still runs in a scope with the trace ids for logs', async () => {
    let scope: ReturnType<typeof currentScope>;
    await invoke(invocationHooks({ tracing: false }), rabbitContext(), [{}], () => {
      scope = currentScope();
    });
    expect(exporter.getFinishedSpans()).toEqual([]);
    expect(scope!).toMatchObject({ function: 'placeOrder', invocationId: 'inv-1', traceId: parentTraceId, spanId: parentSpanId });
  });

  it('when an event is published with a stored trace context, then its PRODUCER span is a child of that context and the headers carry the producer span', async () => {
    const producer = startProducerSpan({ exchange: 'shop.events', routingKey: 'OrderCreated' }, { id: 'evt-1', type: 'OrderCreated', trace: { traceparent } });
    await producer.run(async () => undefined);
    const [span] = exporter.getFinishedSpans();
    expect(span!.kind).toBe(SpanKind.PRODUCER);
    expect(span!.parentSpanContext?.spanId).toBe(parentSpanId);
    expect(producer.headers.traceparent).toBe(`00-${parentTraceId}-${span!.spanContext().spanId}-01`);
  });
});

describe('producer headers with telemetry off', () => {
  it('when no SDK is registered, then the event keeps its own traceparent and tracestate', async () => {
    resetOpenTelemetry();
    const producer = startProducerSpan({ exchange: 'shop.events', routingKey: 'OrderCreated' }, { id: 'e', type: 'OrderCreated', trace: { traceparent, tracestate: 'a=b' } });
    expect(producer.headers).toEqual({ traceparent, tracestate: 'a=b' });
    expect(await producer.run(async () => 42)).toBe(42);
  });
});
