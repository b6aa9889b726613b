import type { HttpRequest, HttpResponseInit, InvocationContext, PostInvocationContext, PreInvocationContext } from '@azure/functions';
import { context, createTraceState, ROOT_CONTEXT, SpanKind, SpanStatusCode, trace, TraceFlags, type Attributes, type Context, type Span } from '@opentelemetry/api';
import { logger } from './logger.js';
import { shopMetrics } from './metrics.js';
import { currentScope, runInScope, type InvocationScope } from './scope.js';

const traceparentPattern = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;
const hookDataKey = 'shopTelemetry';

interface InvocationTelemetry {
  span: Span | undefined;
  startedAt: number;
  scope: InvocationScope;
  http?: { method: string; route: string };
}

interface TriggerOptions {
  type: string;
  queueName?: string;
  route?: string;
}

/** The W3C parent of an invocation as a remote span context, or ROOT_CONTEXT when there is none. */
export function parentContext(traceparent: string | undefined, tracestate?: string): Context {
  const match = traceparent ? traceparentPattern.exec(traceparent) : null;
  if (!match || /^0+$/.test(match[1]!) || /^0+$/.test(match[2]!)) return ROOT_CONTEXT;
  return trace.setSpanContext(ROOT_CONTEXT, {
    traceId: match[1]!,
    spanId: match[2]!,
    traceFlags: Number.parseInt(match[3]!, 16) & TraceFlags.SAMPLED,
    isRemote: true,
    ...(tracestate ? { traceState: createTraceState(tracestate) } : {}),
  });
}

/** String AMQP headers arrive base64 (.NET byte[]) from the RabbitMQ extension and the local host. */
function headerText(value: unknown): string | undefined {
  if (typeof value !== 'string') return undefined;
  if (traceparentPattern.test(value)) return value;
  const decoded = Buffer.from(value, 'base64').toString('utf8');
  return Buffer.from(decoded, 'utf8').toString('base64') === value ? decoded : value;
}

interface MessageInfo {
  traceparent?: string;
  tracestate?: string;
  messageId?: string;
  routingKey?: string;
}

function messageInfo(ic: InvocationContext): MessageInfo {
  const metadata = (ic.triggerMetadata ?? {}) as { basicProperties?: { headers?: Record<string, unknown>; messageId?: unknown }; routingKey?: unknown };
  const headers = metadata.basicProperties?.headers ?? {};
  return {
    traceparent: headerText(headers.traceparent),
    tracestate: headerText(headers.tracestate),
    messageId: typeof metadata.basicProperties?.messageId === 'string' ? metadata.basicProperties.messageId : undefined,
    routingKey: typeof metadata.routingKey === 'string' ? metadata.routingKey : undefined,
  };
}

interface SpanPlan {
  name: string;
  kind: SpanKind;
  parent: Context;
  attributes: Attributes;
  http?: { method: string; route: string };
}

/**
 * How an invocation is traced. HTTP: the host records the request (the real host's ASP.NET Core
 * SERVER span in `telemetryMode: OpenTelemetry`, src/host/httpTrigger.ts's locally) and passes that
 * span as the invocation's trace context, so the app's span is an INTERNAL child of it: a second
 * SERVER span would be a second request record in Application Insights. It carries no
 * `http.request.method`, which would make the Azure Monitor exporter call it an outgoing HTTP
 * dependency. RabbitMQ: a CONSUMER "process" span whose parent is the message's creation context
 * (its traceparent header; the host passes an empty trace context and records no span of its own),
 * which the messaging conventions allow when one message is processed per invocation; a parent
 * rather than a link keeps a checkout one tree across every hop. Timer and others: an INTERNAL span
 * under the host's context.
 */
export function planInvocationSpan(ic: InvocationContext, inputs: readonly unknown[]): SpanPlan {
  const trigger = (ic.options?.trigger ?? { type: 'unknown' }) as TriggerOptions;
  const type = trigger.type.toLowerCase();
  const base: Attributes = { 'faas.invocation_id': ic.invocationId, 'faas.name': ic.functionName };
  const hostParent = parentContext(ic.traceContext?.traceParent ?? undefined, ic.traceContext?.traceState ?? undefined);
  if (type === 'httptrigger') {
    const request = inputs[0] as Partial<HttpRequest> | undefined;
    const method = (request?.method ?? 'GET').toUpperCase();
    const route = `/api/${trigger.route ?? ic.functionName}`;
    return {
      name: `${method} ${route}`,
      kind: SpanKind.INTERNAL,
      parent: hostParent,
      attributes: { ...base, 'faas.trigger': 'http', 'http.route': route },
      http: { method, route },
    };
  }
  if (type === 'rabbitmqtrigger') {
    const message = messageInfo(ic);
    const queue = trigger.queueName ?? 'unknown';
    return {
      name: `process ${queue}`,
      kind: SpanKind.CONSUMER,
      parent: message.traceparent ? parentContext(message.traceparent, message.tracestate) : hostParent,
      attributes: {
        ...base,
        'faas.trigger': 'pubsub',
        'messaging.system': 'rabbitmq',
        'messaging.operation.type': 'process',
        'messaging.operation.name': 'process',
        'messaging.destination.name': queue,
        ...(message.messageId ? { 'messaging.message.id': message.messageId } : {}),
        ...(message.routingKey ? { 'messaging.rabbitmq.destination.routing_key': message.routingKey } : {}),
      },
    };
  }
  return {
    name: ic.functionName,
    kind: SpanKind.INTERNAL,
    parent: hostParent,
    attributes: { ...base, 'faas.trigger': type === 'timertrigger' ? 'timer' : 'other' },
  };
}

function statusOf(result: unknown, error: unknown): number {
  if (error) return 500;
  const status = (result as HttpResponseInit | undefined)?.status;
  return typeof status === 'number' ? status : 200;
}

export interface InvocationHooks {
  preInvocation(context: PreInvocationContext): void;
  postInvocation(context: PostInvocationContext): void;
}

/**
 * Invocation hooks: every handler runs in an invocation scope (function name, invocation id, trace
 * ids for log lines) and, when `tracing` is on, inside its own span, ended after the handler with
 * its outcome. With tracing off nothing but the scope is added.
 */
export function invocationHooks(options: { tracing: boolean }): InvocationHooks {
  return {
    preInvocation(hook) {
      const ic = hook.invocationContext;
      const plan = planInvocationSpan(ic, hook.inputs);
      let span: Span | undefined;
      let active = plan.parent;
      if (options.tracing) {
        span = trace.getTracer('shop-functions').startSpan(plan.name, { kind: plan.kind, attributes: plan.attributes }, plan.parent);
        active = trace.setSpan(plan.parent, span);
      }
      const ids = trace.getSpanContext(active);
      const scope: InvocationScope = {
        function: ic.functionName,
        invocationId: ic.invocationId,
        ...(ids ? { traceId: ids.traceId, spanId: ids.spanId } : {}),
        ids: {},
      };
      const telemetry: InvocationTelemetry = { span, startedAt: performance.now(), scope, ...(plan.http ? { http: plan.http } : {}) };
      hook.hookData[hookDataKey] = telemetry;
      const handler = hook.functionHandler;
      hook.functionHandler = span
        ? (...args: Parameters<typeof handler>) => context.with(active, () => runInScope(scope, () => handler(...args)))
        : (...args: Parameters<typeof handler>) => runInScope(scope, () => handler(...args));
    },

    postInvocation(hook) {
      const telemetry = hook.hookData[hookDataKey] as InvocationTelemetry | undefined;
      if (!telemetry) return;
      const { span } = telemetry;
      if (hook.error) {
        span?.recordException(hook.error instanceof Error ? hook.error : String(hook.error));
        span?.setStatus({ code: SpanStatusCode.ERROR, message: hook.error instanceof Error ? hook.error.message : String(hook.error) });
      }
      if (telemetry.http) {
        const status = statusOf(hook.result, hook.error);
        span?.setAttribute('http.response.status_code', status);
        if (status >= 500) span?.setStatus({ code: SpanStatusCode.ERROR });
        const seconds = (performance.now() - telemetry.startedAt) / 1000;
        shopMetrics.httpRequest(seconds, { 'http.request.method': telemetry.http.method, 'http.route': telemetry.http.route, 'http.response.status_code': status });
        if (status >= 400 && status < 500) {
          // Client errors are not logged by the routes; one info line (never the request's headers) helps answer "why was my call refused".
          const line = () => runInScope(telemetry.scope, () => logger.info('request refused', { method: telemetry.http!.method, route: telemetry.http!.route, status }));
          if (span) context.with(trace.setSpan(context.active(), span), line);
          else line();
        }
      }
      span?.end();
    },
  };
}

/**
 * Adds business ids (orderId, checkoutId) to the current invocation: as attributes of its span
 * and as fields of its later log lines.
 */
export function annotateInvocation(ids: Record<string, string | undefined>): void {
  const span = trace.getActiveSpan();
  const scope = currentScope();
  for (const [key, value] of Object.entries(ids)) {
    if (value === undefined) continue;
    span?.setAttribute(key, value);
    if (scope) scope.ids[key] = value;
  }
}
