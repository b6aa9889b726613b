import type pg from 'pg';
import type { NotificationLedger } from '../../domain/notifications.js';
import { inTransaction } from './pool.js';

/**
 * Sent markers in Postgres. The marker is inserted first and commits only after the provider
 * accepted the message (a failed send rolls it back); until then its uncommitted key is the lock: a
 * duplicate delivered at the same time waits in its own INSERT and then finds the key taken if the
 * first committed, or inserts it and sends if the first rolled back.
 */
export function postgresNotificationLedger(pool: pg.Pool): NotificationLedger {
  return {
    sendOnce: (key, send) =>
      inTransaction(pool, async (client) => {
        const { rowCount } = await client.query('INSERT INTO notifications_sent (notification_key) VALUES ($1) ON CONFLICT DO NOTHING', [key]);
        if (rowCount === 0) return 'already_sent' as const;
        await send();
        return 'sent' as const;
      }),
  };
}
