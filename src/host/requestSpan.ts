import type { IncomingMessage, ServerResponse } from 'node:http';
import { defaultTextMapGetter, ROOT_CONTEXT, SpanKind, SpanStatusCode, trace, type Attributes } from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import type { RpcInvocationRequest } from './coreTypes.js';

type TraceContext = NonNullable<RpcInvocationRequest['traceContext']>;

const w3c = new W3CTraceContextPropagator();

/*
 * The request record, as the real host keeps it. In `telemetryMode: OpenTelemetry` the host traces
 * every HTTP request with ASP.NET Core's instrumentation (one SERVER span, continuing the caller's
 * traceparent) and gives that span to the worker as the invocation's trace context, with the
 * span's tags as its attributes (azure-functions-host 89dc438,
 * src/WebJobs.Script/Diagnostics/OpenTelemetry/OpenTelemetryConfigurationExtensions.cs
 * `AddAspNetCoreInstrumentation`; src/WebJobs.Script/Description/Workers/WorkerFunctionInvoker.cs
 * `Traceparent = Activity.Current?.Id`; test/conformance/captured/routeNotFound.json). The app then
 * traces its invocation as a child of it (src/adapters/telemetry/invocation.ts). The local host runs
 * in the app's process, so it makes that span with the app's OpenTelemetry providers; with telemetry
 * off the span does not record and the invocation gets the caller's traceparent, as before.
 */
export interface RequestSpan {
  /** The invocation's trace context: this span when it records, else the caller's traceparent, else none. */
  traceContext: TraceContext | undefined;
  /** Tags the span with the function the request invokes, as the host does (`faas.name`, `faas.trigger`). */
  invokes(functionName: string): void;
}

/**
 * Starts the SERVER span of one request, named by its method as the host's is; it ends, with the
 * answer's status, when the response closes. The host tags it with the function it invokes
 * (src/WebJobs.Script.Grpc/Channel/GrpcWorkerChannel.cs, `Activity.Current?.AddTag(FaaSName, ...)`).
 */
export function startRequestSpan(req: IncomingMessage, res: ServerResponse, url: URL): RequestSpan {
  const method = (req.method ?? 'GET').toUpperCase();
  const attributes: Attributes = {
    'http.request.method': method,
    'url.scheme': url.protocol.replace(/:$/, ''),
    'url.path': url.pathname,
    'server.address': url.hostname,
    ...(url.port ? { 'server.port': Number(url.port) } : {}),
    'network.protocol.version': req.httpVersion,
    ...(req.headers['user-agent'] ? { 'user_agent.original': req.headers['user-agent'] } : {}),
  };
  const parent = w3c.extract(ROOT_CONTEXT, req.headers, defaultTextMapGetter);
  const span = trace.getTracer('local-functions-host').startSpan(method, { kind: SpanKind.SERVER, attributes }, parent);
  res.once('close', () => {
    const status = res.headersSent ? res.statusCode : 500;
    span.setAttribute('http.response.status_code', status);
    if (status >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
    span.end();
  });

  let traceContext: TraceContext | undefined;
  if (span.isRecording()) {
    const carrier: Record<string, string> = {};
    w3c.inject(trace.setSpan(ROOT_CONTEXT, span), carrier, { set: (c, key, value) => (c[key] = value) });
    traceContext = { traceParent: carrier.traceparent ?? null, traceState: carrier.tracestate ?? null, attributes: stringAttributes(attributes) };
  } else if (req.headers.traceparent) {
    traceContext = { traceParent: String(req.headers.traceparent), traceState: req.headers.tracestate ? String(req.headers.tracestate) : null, attributes: {} };
  }
  return {
    traceContext,
    invokes(functionName) {
      span.setAttributes({ 'faas.name': functionName, 'faas.trigger': 'http' });
    },
  };
}

const stringAttributes = (attributes: Attributes) => Object.fromEntries(Object.entries(attributes).map(([key, value]) => [key, String(value)]));
