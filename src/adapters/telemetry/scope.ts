import { AsyncLocalStorage } from 'node:async_hooks';

/** What every log line written during an invocation carries, with or without OpenTelemetry. */
export interface InvocationScope {
  function: string;
  invocationId: string;
  /** From the invocation's trace context; used by the logger when no span is active (telemetry off). */
  traceId?: string;
  spanId?: string;
  /** Business ids learnt during the invocation (orderId, checkoutId). */
  ids: Record<string, string>;
}

const storage = new AsyncLocalStorage<InvocationScope>();

export function runInScope<T>(scope: InvocationScope, work: () => T): T {
  return storage.run(scope, work);
}

export function currentScope(): InvocationScope | undefined {
  return storage.getStore();
}
