import type { InvocationContext } from '@azure/functions';
import type { TraceContext } from '../../domain/events.js';
import { logger } from '../telemetry/logger.js';
import { isTraceparent } from '../telemetry/traceContext.js';

/** A RabbitMQ-triggered invocation's message, read the same way under the Functions host and the local host. */
export interface TriggerMessage {
  /** The body as received, for dead-lettering it unchanged. */
  raw: Buffer;
  /** The body parsed as JSON, or undefined when it is not JSON. */
  json: unknown;
  messageId: string | undefined;
  /** The message's `type` property. */
  type: string | undefined;
  /** The body's own `type` member (published events carry it). */
  bodyType: string | undefined;
  /**
   * False when the host delivered no usable message properties: the RabbitMQ extension's
   * BasicProperties fail the host's JSON serialization and arrive as their .NET type name
   * (azure-functions-rabbitmq-extension#119). Then no messageId, type, headers or requeue count.
   */
  propertiesDelivered: boolean;
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
export function headerText(value: unknown): string | undefined {
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
  const delivered = context.triggerMetadata?.basicProperties;
  const propertiesDelivered = typeof delivered === 'object' && delivered !== null;
  const properties: BasicProperties = propertiesDelivered ? delivered : {};
  if (!propertiesDelivered) reportMissingProperties(delivered, context);
  const headers = properties.headers && typeof properties.headers === 'object' ? properties.headers : {};
  const traceparent = headerText(headers.traceparent);
  const tracestate = headerText(headers.tracestate);
  const requeueCount = Number(headers['x-ms-rabbitmq-requeuecount'] ?? 0);
  return {
    raw,
    json,
    messageId: stringOrUndefined(properties.messageId),
    type: stringOrUndefined(properties.type),
    bodyType: stringOrUndefined((json as { type?: unknown } | null | undefined)?.type),
    propertiesDelivered,
    headers,
    trace: isTraceparent(traceparent) ? { traceparent, ...(tracestate ? { tracestate } : {}) } : {},
    requeueCount: Number.isFinite(requeueCount) ? requeueCount : 0,
  };
}

let missingPropertiesReported = false;

/** Once per process: operators should know that trace links and requeue counts are lost. */
function reportMissingProperties(delivered: unknown, context: InvocationContext): void {
  if (missingPropertiesReported) return;
  missingPropertiesReported = true;
  logger.warn('the host delivered no message properties (azure-functions-rabbitmq-extension#119); event types are read from the bodies and trace links are lost', {
    function: context.functionName,
    basicProperties: String(delivered),
  });
}

const stringOrUndefined = (value: unknown) => (typeof value === 'string' ? value : undefined);

/**
 * The event type a message claims: its `type` property, else its body's `type`, else the only type
 * its queue carries. Undefined when none of these tells (a queue of several types, neither given).
 */
export function claimedEventType(message: TriggerMessage, queueTypes: readonly string[]): string | undefined {
  return message.type ?? message.bodyType ?? (queueTypes.length === 1 ? queueTypes[0] : undefined);
}

function tryParse(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
