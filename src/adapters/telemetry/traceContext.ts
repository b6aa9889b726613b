import { context, propagation, trace } from '@opentelemetry/api';
import type { TraceContext } from '../../domain/events.js';
import { randomBytesPooled } from '../../domain/ids.js';

const traceparentPattern = /^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$/;

export function isTraceparent(value: unknown): value is string {
  return typeof value === 'string' && traceparentPattern.test(value) && !value.includes('-00000000000000000000000000000000-');
}

/**
 * The W3C trace context to stamp on events published now: the active span's when OpenTelemetry is
 * recording, else the one the invocation arrived with, else a new root, so every event of a
 * checkout carries one trace id through every hop even with telemetry export off.
 */
export function outgoingTraceContext(incoming?: TraceContext): TraceContext {
  if (trace.getActiveSpan()?.spanContext().traceFlags !== undefined && trace.getActiveSpan()?.isRecording()) {
    const carrier: Record<string, string> = {};
    propagation.inject(context.active(), carrier);
    if (isTraceparent(carrier.traceparent)) return { traceparent: carrier.traceparent, tracestate: carrier.tracestate };
  }
  if (incoming && isTraceparent(incoming.traceparent)) return incoming;
  return { traceparent: `00-${randomBytesPooled(16).toString('hex')}-${randomBytesPooled(8).toString('hex')}-01` };
}
