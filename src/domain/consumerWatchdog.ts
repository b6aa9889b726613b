/**
 * When to restart the Function App because a queue it consumes has lost its consumer.
 *
 * The Functions host disables a RabbitMQ trigger whose listener could not start (broker down or queue
 * missing while it indexed the functions) and never recovers a channel the extension's consumer lost
 * (azure-functions-rabbitmq-extension #230); only a host restart brings such a consumer back
 * (docs/deploy.md, section 2). The watchdog looks at the broker's own count of consumers per queue and
 * asks for a restart once a queue has had none for `unconsumedForMs` while the broker answered, at
 * most once per `minRestartIntervalMs`.
 */

/** A queue's consumers as the broker counts them, or `missing` when the queue does not exist. */
export type QueueConsumers = number | 'missing';

/** What one look at the broker saw. */
export type ConsumerObservation = { broker: 'unreachable' } | { broker: 'answered'; consumers: Readonly<Record<string, QueueConsumers>> };

/** What the watchdog remembers between looks (kept in Postgres, so any instance's timer continues it). */
export interface WatchdogState {
  /** Per queue: since when (ms since the epoch) it has been seen without a consumer, continuously. */
  readonly unconsumedSince: Readonly<Record<string, number>>;
  /** When the watchdog last asked for a restart (ms since the epoch). */
  readonly lastRestartAt: number | undefined;
}

export interface WatchdogPolicy {
  /** How long a queue must stay without a consumer, the broker answering, before a restart. */
  readonly unconsumedForMs: number;
  /** At most one restart per this long, whatever the queues show (a restart takes time to bring consumers back). */
  readonly minRestartIntervalMs: number;
  /**
   * How much earlier than due a look may still act: looks come on a schedule (every minute) whose runs
   * start a little early or late, and a look a few ms short of the window would otherwise wait a whole
   * interval more. Default 0.
   */
  readonly lookJitterMs?: number;
}

export type WatchdogAction =
  | { kind: 'none' }
  /** Queues are without a consumer but not yet for long enough, or a restart was asked for too recently. */
  | { kind: 'wait'; queues: string[]; restartDueAt: number }
  | { kind: 'restart'; queues: string[] };

export const initialWatchdogState: WatchdogState = { unconsumedSince: {}, lastRestartAt: undefined };

/**
 * The next state and what to do, from the previous state and one observation at `now`.
 * - The broker not answering says nothing about consumers, and a host restarted while the broker is
 *   down comes back with its triggers disabled: no restart, and every window starts again.
 * - A queue with a consumer leaves the window; a missing queue counts as unconsumed (the restarted
 *   app declares the topology at start, src/app/prepareDependencies.ts).
 * - A restart clears the windows, so the next one is judged on what the restarted host does.
 */
export function judgeConsumers(state: WatchdogState, observation: ConsumerObservation, now: number, policy: WatchdogPolicy): { state: WatchdogState; action: WatchdogAction } {
  if (observation.broker === 'unreachable') return { state: { unconsumedSince: {}, lastRestartAt: state.lastRestartAt }, action: { kind: 'none' } };

  const unconsumedSince: Record<string, number> = {};
  for (const [queue, consumers] of Object.entries(observation.consumers)) {
    if (consumers === 'missing' || consumers === 0) unconsumedSince[queue] = Math.min(state.unconsumedSince[queue] ?? now, now);
  }
  const queues = Object.keys(unconsumedSince).sort();
  if (queues.length === 0) return { state: { unconsumedSince, lastRestartAt: state.lastRestartAt }, action: { kind: 'none' } };

  const longest = Math.min(...Object.values(unconsumedSince));
  const allowedAt = state.lastRestartAt === undefined ? -Infinity : state.lastRestartAt + policy.minRestartIntervalMs;
  const restartDueAt = Math.max(longest + policy.unconsumedForMs, allowedAt);
  if (now + (policy.lookJitterMs ?? 0) >= restartDueAt) return { state: { unconsumedSince: {}, lastRestartAt: now }, action: { kind: 'restart', queues } };
  return { state: { unconsumedSince, lastRestartAt: state.lastRestartAt }, action: { kind: 'wait', queues, restartDueAt } };
}
