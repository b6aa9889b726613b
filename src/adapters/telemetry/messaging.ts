import { context, SpanKind, SpanStatusCode, trace, type Span } from '@opentelemetry/api';
import type { TraceContext } from '../../domain/events.js';
import { parentContext } from './invocation.js';

export interface ProducerSpan {
  /** The W3C headers to publish with: the producer span's context, or the event's own when not tracing. */
  headers: Record<string, string>;
  /** Runs the publish inside the producer span's context (so an instrumented client nests under it). */
  run<T>(work: () => Promise<T>): Promise<T>;
}

/**
 * A PRODUCER span for one published event whose parent is the trace context the event carries
 * (for an outbox row, the one stored with it), not whatever is active when it is sent: the outbox
 * relay and the timer sweep publish later, and the chain must stay one tree. Not tracing: the
 * event's headers are kept as they are.
 */
export function startProducerSpan(destination: { exchange: string; routingKey: string }, event: { id: string; type: string; trace?: TraceContext }): ProducerSpan {
  const parent = event.trace?.traceparent ? parentContext(event.trace.traceparent, event.trace.tracestate) : context.active();
  const span: Span = trace.getTracer('shop-functions').startSpan(
    `publish ${destination.routingKey}`,
    {
      kind: SpanKind.PRODUCER,
      attributes: {
        'messaging.system': 'rabbitmq',
        'messaging.operation.type': 'send',
        'messaging.operation.name': 'publish',
        'messaging.destination.name': destination.exchange,
        'messaging.rabbitmq.destination.routing_key': destination.routingKey,
        'messaging.message.id': event.id,
      },
    },
    parent,
  );
  if (!span.isRecording()) {
    return { headers: w3cHeaders(event.trace), run: (work) => work() };
  }
  const ids = span.spanContext();
  const headers = w3cHeaders({
    traceparent: `00-${ids.traceId}-${ids.spanId}-${(ids.traceFlags & 0xff).toString(16).padStart(2, '0')}`,
    tracestate: ids.traceState?.serialize() || event.trace?.tracestate,
  });
  return {
    headers,
    run: async (work) => {
      try {
        return await context.with(trace.setSpan(parent, span), work);
      } catch (error) {
        span.recordException(error as Error);
        span.setStatus({ code: SpanStatusCode.ERROR, message: (error as Error).message });
        throw error;
      } finally {
        span.end();
      }
    },
  };
}

function w3cHeaders(trace: TraceContext | undefined): Record<string, string> {
  const headers: Record<string, string> = {};
  if (trace?.traceparent) headers.traceparent = trace.traceparent;
  if (trace?.tracestate) headers.tracestate = trace.tracestate;
  return headers;
}
