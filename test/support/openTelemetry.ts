import { context, metrics, propagation, trace } from '@opentelemetry/api';
import { logs } from '@opentelemetry/api-logs';

/** Unregisters every global OpenTelemetry provider, so each test starts from the no-op API. */
export function resetOpenTelemetry(): void {
  trace.disable();
  metrics.disable();
  logs.disable();
  propagation.disable();
  context.disable();
}
