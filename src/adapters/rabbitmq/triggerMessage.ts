import type { InvocationContext } from '@azure/functions';
import type { TraceContext } from '../../domain/events.js';
import { isTraceparent } from '../telemetry/traceContext.js';

/** A RabbitMQ-triggered invocation's message, read the same way under the Functions host and the local host. */
export interface TriggerMessage {
  /** The body as received, for dead-lettering it unchanged. */
  raw: Buffer;
  /** The body parsed as JSON, or undefined when it is not JSON. */
  json: unknown;
  messageId: string | undefined;
  type: string | undefined;
  headers: Record<string, unknown>;
  trace: TraceContext;
  requeueCount: number;
}

interface BasicProperties {
  messageId?: unknown;
  type?: unknown;
  headers?: Record<string, unknown>;
}

/**
 * The extension sends string header values as .NET byte[] (base64 in JSON); the local host does
 * the same. A value that is already plain text (another serializer) is kept.
 */
function headerText(value: unknown): string | undefined {
  if (typeof value !== 'string') return undefined;
  if (isTraceparent(value)) return value;
  const decoded = Buffer.from(value, 'base64').toString('utf8');
  return Buffer.from(decoded, 'utf8').toString('base64') === value ? decoded : value;
}

/**
 * Reads the trigger's input: the library hands a JSON body over already parsed (the extension
 * sends a string), a non-JSON body as a string, and a binary one as a Buffer.
 */
export function readTriggerMessage(input: unknown, context: InvocationContext): TriggerMessage {
  let raw: Buffer;
  let json: unknown;
  if (Buffer.isBuffer(input)) {
    raw = input;
    json = tryParse(input.toString('utf8'));
  } else if (typeof input === 'string') {
    raw = Buffer.from(input, 'utf8');
    json = tryParse(input);
  } else {
    json = input;
    raw = Buffer.from(JSON.stringify(input) ?? '', 'utf8');
  }
  const properties = (context.triggerMetadata?.basicProperties ?? {}) as BasicProperties;
  const headers = properties.headers && typeof properties.headers === 'object' ? properties.headers : {};
  const traceparent = headerText(headers.traceparent);
  const tracestate = headerText(headers.tracestate);
  const requeueCount = Number(headers['x-ms-rabbitmq-requeuecount'] ?? 0);
  return {
    raw,
    json,
    messageId: typeof properties.messageId === 'string' ? properties.messageId : undefined,
    type: typeof properties.type === 'string' ? properties.type : undefined,
    headers,
    trace: isTraceparent(traceparent) ? { traceparent, ...(tracestate ? { tracestate } : {}) } : {},
    requeueCount: Number.isFinite(requeueCount) ? requeueCount : 0,
  };
}

function tryParse(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
