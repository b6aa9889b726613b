import type pg from 'pg';
import type { NotificationLedger } from '../../domain/notifications.js';
import { inTransaction } from './pool.js';

/**
 * Sent markers in Postgres. The key's transaction-scoped advisory lock is held while the email is
 * sent, so a duplicate delivered at the same time waits and then finds the marker; the marker
 * commits only after the provider accepted the message.
 */
export function postgresNotificationLedger(pool: pg.Pool): NotificationLedger {
  return {
    sendOnce: (key, send) =>
      inTransaction(pool, async (client) => {
        await client.query('SELECT pg_advisory_xact_lock(hashtextextended($1, 23))', [key]);
        const { rowCount } = await client.query('SELECT 1 FROM notifications_sent WHERE notification_key = $1', [key]);
        if (rowCount === 1) return 'already_sent' as const;
        await send();
        await client.query('INSERT INTO notifications_sent (notification_key) VALUES ($1)', [key]);
        return 'sent' as const;
      }),
  };
}
