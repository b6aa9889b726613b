import { trace } from '@opentelemetry/api';

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

function write(level: Level, message: string, fields: Fields = {}): void {
  const span = trace.getActiveSpan()?.spanContext();
  const line = {
    time: new Date().toISOString(),
    level,
    msg: redact(message),
    ...(span && span.traceId !== '00000000000000000000000000000000' ? { traceId: span.traceId, spanId: span.spanId } : {}),
    ...(serialize(fields) as Fields),
  };
  (level === 'error' || level === 'warn' ? process.stderr : process.stdout).write(`${JSON.stringify(line)}\n`);
}

/** Structured JSON-lines logger: trace and span ids from the active span, secrets redacted. */
export const logger = {
  info: (message: string, fields?: Fields) => write('info', message, fields),
  warn: (message: string, fields?: Fields) => write('warn', message, fields),
  error: (message: string, fields?: Fields) => write('error', message, fields),
};
