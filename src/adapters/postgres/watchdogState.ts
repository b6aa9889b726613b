import type pg from 'pg';
import type { WatchdogAction, WatchdogState } from '../../domain/consumerWatchdog.js';
import { inTransaction } from './pool.js';

/** Reads and replaces the watchdog's state under a lock, so runs on several instances take turns. */
export interface WatchdogStateStore {
  /** Calls `judge` with the state and the database's clock (ms since the epoch), stores the state it returns, and returns its action once committed. */
  update(judge: (state: WatchdogState, now: number) => { state: WatchdogState; action: WatchdogAction }): Promise<WatchdogAction>;
}

interface WatchdogRow {
  unconsumed_since: Record<string, string>;
  last_restart_at: Date | null;
  now: Date;
}

/**
 * The site's row of `consumer_watchdog` (migrations 1732500000030-31), created on first use and locked
 * FOR UPDATE for the judgement; the clock is the database's, the same for every instance.
 */
export function postgresWatchdogState(pool: pg.Pool, site: string): WatchdogStateStore {
  return {
    update: (judge) =>
      inTransaction(pool, async (client) => {
        const lock = () => client.query<WatchdogRow>('SELECT unconsumed_since, last_restart_at, now() AS now FROM consumer_watchdog WHERE site = $1 FOR UPDATE', [site]);
        let row = (await lock()).rows[0];
        if (!row) {
          await client.query('INSERT INTO consumer_watchdog (site) VALUES ($1) ON CONFLICT (site) DO NOTHING', [site]);
          row = (await lock()).rows[0]!;
        }
        const state: WatchdogState = {
          unconsumedSince: Object.fromEntries(Object.entries(row.unconsumed_since).map(([queue, since]) => [queue, Date.parse(since)])),
          lastRestartAt: row.last_restart_at?.getTime(),
        };
        const judged = judge(state, row.now.getTime());
        const unconsumedSince = Object.fromEntries(Object.entries(judged.state.unconsumedSince).map(([queue, since]) => [queue, new Date(since).toISOString()]));
        await client.query('UPDATE consumer_watchdog SET unconsumed_since = $2, last_restart_at = $3 WHERE site = $1', [
          site,
          JSON.stringify(unconsumedSince),
          judged.state.lastRestartAt === undefined ? null : new Date(judged.state.lastRestartAt),
        ]);
        return judged.action;
      }),
  };
}
