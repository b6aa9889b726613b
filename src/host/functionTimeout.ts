/** A duration as the host prints host.json time spans: `00:05:00`. */
export function formatTimeSpan(ms: number): string {
  const seconds = Math.floor(ms / 1000);
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${pad(Math.floor(seconds / 3600))}:${pad(Math.floor(seconds / 60) % 60)}:${pad(seconds % 60)}`;
}

/**
 * Rejects, with the message of the host's FunctionTimeoutException, when `work` outlasts host.json
 * `functionTimeout`: the invocation then counts as failed. The handler runs in this process and
 * cannot be stopped, so it runs on; the real host restarts the worker process (docs/local-host.md).
 */
export function withFunctionTimeout<T>(work: Promise<T>, ms: number, functionName: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`Timeout value of ${formatTimeSpan(ms)} was exceeded by function: Functions.${functionName}`)), ms);
  });
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
}
