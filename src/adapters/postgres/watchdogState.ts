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

/** The one row of `consumer_watchdog` (migration 1732500000030), locked FOR UPDATE for the judgement; the clock is the database's, the same for every instance. */
export function postgresWatchdogState(pool: pg.Pool): WatchdogStateStore {
  return {
    update: (judge) =>
      inTransaction(pool, async (client) => {
        const { rows } = await client.query<WatchdogRow>('SELECT unconsumed_since, last_restart_at, now() AS now FROM consumer_watchdog WHERE singleton FOR UPDATE');
        const row = rows[0];
        if (!row) throw new Error('consumer_watchdog has no row: run the migrations');
        const state: WatchdogState = {
          unconsumedSince: Object.fromEntries(Object.entries(row.unconsumed_since).map(([queue, since]) => [queue, Date.parse(since)])),
          lastRestartAt: row.last_restart_at?.getTime(),
        };
        const judged = judge(state, row.now.getTime());
        const unconsumedSince = Object.fromEntries(Object.entries(judged.state.unconsumedSince).map(([queue, since]) => [queue, new Date(since).toISOString()]));
        await client.query('UPDATE consumer_watchdog SET unconsumed_since = $1, last_restart_at = $2 WHERE singleton', [
          JSON.stringify(unconsumedSince),
          judged.state.lastRestartAt === undefined ? null : new Date(judged.state.lastRestartAt),
        ]);
        return judged.action;
      }),
  };
}
