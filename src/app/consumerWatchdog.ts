import type { SiteRestarter } from '../adapters/azure/siteRestarter.js';
import type { WatchdogStateStore } from '../adapters/postgres/watchdogState.js';
import { judgeConsumers, type ConsumerObservation, type QueueConsumers, type WatchdogAction, type WatchdogPolicy } from '../domain/consumerWatchdog.js';

export interface ConsumerWatchdog {
  /** Consumers per queue as the broker counts them; rejects when the broker cannot be reached. */
  consumerCounts(queues: readonly string[]): Promise<Record<string, QueueConsumers>>;
  store: WatchdogStateStore;
  restarter: SiteRestarter;
  policy: WatchdogPolicy;
}

/**
 * One look of the watchdog (its timer, functions/watchdog.ts): asks the broker for the trigger queues'
 * consumers, judges that against the stored state under its lock, and restarts the app when told to,
 * after the decision is committed (so no other instance restarts it again within the interval, even
 * when this call fails: a failed restart is reported and tried again after the interval).
 */
export async function watchConsumersOnce(watchdog: ConsumerWatchdog, queues: readonly string[], beforeRestart: (queues: string[]) => void = () => undefined): Promise<WatchdogAction> {
  const observation: ConsumerObservation = await watchdog.consumerCounts(queues).then(
    (consumers) => ({ broker: 'answered', consumers }),
    () => ({ broker: 'unreachable' }),
  );
  const action = await watchdog.store.update((state, now) => judgeConsumers(state, observation, now, watchdog.policy));
  if (action.kind === 'restart') {
    // Said before the call: the restart may end this process before anything after it is exported.
    beforeRestart(action.queues);
    await watchdog.restarter.restart();
  }
  return action;
}
