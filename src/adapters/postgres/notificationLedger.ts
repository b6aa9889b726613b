import type pg from 'pg';
import type { NotificationLedger } from '../../domain/notifications.js';
import { orderSelect, toOrder, type OrderRow } from './orderStore.js';
import { inTransaction } from './pool.js';

/** Rolls the marker back when the send answered something other than 'sent'. */
class NotSent<R> extends Error {
  constructor(readonly outcome: R) {
    super('notification not sent');
  }
}

/**
 * Sent markers in Postgres. The marker is inserted first and commits only after the provider
 * accepted the message (a failed send rolls it back); until then its uncommitted key is the lock: a
 * duplicate delivered at the same time waits in its own INSERT and then finds the key taken if the
 * first committed, or inserts it and sends if the first rolled back. The same statement reads the
 * order, so a notification costs one transaction.
 */
export function postgresNotificationLedger(pool: pg.Pool): NotificationLedger {
  return {
    async sendOnce(key, orderId, send) {
      try {
        return await inTransaction(pool, async (client) => {
          const { rows } = await client.query<Partial<OrderRow> & { fresh: boolean }>(
            `WITH marker AS (INSERT INTO notifications_sent (notification_key) VALUES ($1) ON CONFLICT DO NOTHING RETURNING 1)
             SELECT EXISTS (SELECT 1 FROM marker) AS fresh, found.* FROM (SELECT 1) AS one LEFT JOIN (${orderSelect} WHERE o.id = $2) AS found ON true`,
            [key, orderId],
          );
          const row = rows[0]!;
          if (!row.fresh) return 'already_sent' as const;
          const outcome = await send(row.id ? toOrder(row as OrderRow) : undefined);
          if (outcome !== 'sent') throw new NotSent(outcome);
          return outcome;
        });
      } catch (error) {
        if (error instanceof NotSent) return error.outcome as Exclude<Awaited<ReturnType<typeof send>>, 'sent'>;
        throw error;
      }
    },
  };
}
