/**
 * Calls `stop` on the first SIGINT or SIGTERM; a second Ctrl+C exits at once. One Ctrl+C can arrive
 * more than once (the terminal signals the whole process group, and wrappers such as `npm run dev`
 * or the worker supervisor pass it on too), so a signal within a second of the first is the same one.
 */
export function onStopSignals(stop: (signal: NodeJS.Signals) => void): void {
  let firstAt: number | undefined;
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.on(signal, () => {
      if (firstAt === undefined) {
        firstAt = Date.now();
        stop(signal);
      } else if (Date.now() - firstAt > 1_000) process.exit(130);
    });
  }
}
