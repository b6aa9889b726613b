import { context, trace } from '@opentelemetry/api';
import { logs, SeverityNumber, type AnyValueMap } from '@opentelemetry/api-logs';
import { currentScope } from './scope.js';

type Level = 'info' | 'warn' | 'error';
type Fields = Record<string, unknown>;

const sensitiveKey = /authorization|token|password|passwd|secret|connection.?string|cookie|^(postgres|redis|rabbitmq)_url$/i;
const jwtLike = /\beyJ[\w-]{5,}\.[\w-]{5,}\.[\w-]*/g;
const credentialsInUrl = /\b([a-z][\w+.-]*:\/\/)[^\s/@:]*:[^\s/@]*@/gi;
const instrumentationKey = /(InstrumentationKey=)[^;\s]+/gi;

/** Removes what must never reach a log: bearer tokens, passwords in URLs, instrumentation keys. */
export function redact(text: string): string {
  return text.replace(jwtLike, '[redacted-token]').replace(credentialsInUrl, '$1[redacted]@').replace(instrumentationKey, '$1[redacted]');
}

function serialize(value: unknown, depth = 0): unknown {
  if (value instanceof Error) {
    const code = (value as { code?: unknown }).code;
    return { name: value.name, message: redact(value.message), ...(code ? { code } : {}), ...(value.cause && depth < 3 ? { cause: serialize(value.cause, depth + 1) } : {}), stack: value.stack ? redact(value.stack) : undefined };
  }
  if (typeof value === 'string') return redact(value);
  if (Array.isArray(value)) return depth > 4 ? '[array]' : value.map((v) => serialize(v, depth + 1));
  if (value && typeof value === 'object') {
    if (depth > 4) return '[object]';
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, sensitiveKey.test(k) ? '[redacted]' : serialize(v, depth + 1)]));
  }
  return value;
}

/*
 * One sink per log call. With an export running, records go to OpenTelemetry only: the Functions
 * host captures the worker's stdout as console logs and would export every line a second time.
 * Without one, JSON lines on stdout (stderr for warnings and errors).
 */
let exportRecords = false;

/** Sends every later log call to OpenTelemetry instead of stdout; called once export has started. */
export function logThroughOpenTelemetry(): void {
  exportRecords = true;
}

const severity: Record<Level, SeverityNumber> = { info: SeverityNumber.INFO, warn: SeverityNumber.WARN, error: SeverityNumber.ERROR };
const invalidTraceId = '00000000000000000000000000000000';

function write(level: Level, message: string, fields: Fields = {}): void {
  const span = trace.getActiveSpan()?.spanContext();
  const scope = currentScope();
  const ids =
    span && span.traceId !== invalidTraceId
      ? { traceId: span.traceId, spanId: span.spanId }
      : scope?.traceId
        ? { traceId: scope.traceId, spanId: scope.spanId }
        : {};
  const safe = serialize(fields) as Fields;
  const line = {
    time: new Date().toISOString(),
    level,
    msg: redact(message),
    ...ids,
    ...(scope ? { function: scope.function, invocationId: scope.invocationId, ...scope.ids } : {}),
    ...safe,
  };
  if (!exportRecords) {
    (level === 'error' || level === 'warn' ? process.stderr : process.stdout).write(`${JSON.stringify(line)}\n`);
    return;
  }
  // The SDK takes trace_id/span_id from the active context.
  logs.getLogger('shop-functions').emit({
    severityNumber: severity[level],
    severityText: level.toUpperCase(),
    body: line.msg,
    attributes: flatten({ ...(scope ? { function: scope.function, invocationId: scope.invocationId, ...scope.ids } : {}), ...safe }),
    context: context.active(),
  });
}

/** Log record attributes are flat: nested values become JSON text. */
function flatten(fields: Fields): AnyValueMap {
  const out: AnyValueMap = {};
  for (const [key, value] of Object.entries(fields)) {
    if (value === undefined) continue;
    out[key] = value === null || typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean' ? value : JSON.stringify(value);
  }
  return out;
}

/** Structured logger: OpenTelemetry log records or JSON lines, with trace and span ids, secrets redacted. */
export const logger = {
  info: (message: string, fields?: Fields) => write('info', message, fields),
  warn: (message: string, fields?: Fields) => write('warn', message, fields),
  error: (message: string, fields?: Fields) => write('error', message, fields),
};
