import type pg from 'pg';
import type { NotificationLedger } from '../../domain/notifications.js';
import type { Order } from '../../domain/orders.js';
import { Coalesced } from './coalesced.js';
import { orderSelect, toOrder, type OrderRow } from './orderStore.js';
import { inTransaction } from './pool.js';

interface Notification {
  key: string;
  orderId: string;
  send: (order: Order | undefined) => Promise<string>;
}

/** One notification's end: its outcome, or the error its send threw (only that caller gets it). */
type Ended = { outcome: string } | { error: unknown };
const isSent = (ended: Ended) => 'outcome' in ended && ended.outcome === 'sent';

/**
 * Sent markers in Postgres. The markers are inserted first and commit only after the provider
 * accepted the messages; until then a marker's uncommitted key is the lock: a duplicate delivered at
 * the same time waits in its own INSERT and then finds the key taken if the first committed, or
 * inserts it and sends if the first did not. Notifications that arrive while one is being sent
 * (`Coalesced`) share one transaction: one statement inserts their markers and reads their orders,
 * their sends run at once, and the markers of those not sent are deleted before the commit, so a
 * failed send marks nothing and does not undo its neighbours. A crash before the commit leaves the
 * whole batch unmarked: each of its notifications is sent again (at least once, as before).
 */
export function postgresNotificationLedger(pool: pg.Pool): NotificationLedger {
  const batches = new Coalesced<Notification, Ended>((notifications) => sendTogether(pool, notifications), { parallel: 2 });
  return {
    async sendOnce(key, orderId, send) {
      const ended = await batches.call({ key, orderId, send });
      if ('error' in ended) throw ended.error;
      return ended.outcome as Awaited<ReturnType<typeof send>> | 'already_sent';
    },
  };
}

async function sendTogether(pool: pg.Pool, notifications: Notification[]): Promise<Ended[]> {
  return inTransaction(pool, async (client) => {
    // Keys in order, so two batches marking the same keys wait for each other instead of deadlocking.
    const { rows } = await client.query<Partial<OrderRow> & { notification_key: string; fresh: boolean }>(
      `WITH marker AS (
         INSERT INTO notifications_sent (notification_key) SELECT DISTINCT k FROM unnest($1::text[]) AS k ORDER BY k ON CONFLICT DO NOTHING RETURNING notification_key
       )
       SELECT w.k AS notification_key, w.k IN (SELECT notification_key FROM marker) AS fresh, found.*
         FROM unnest($1::text[], $2::uuid[]) AS w(k, order_id) LEFT JOIN LATERAL (${orderSelect} WHERE o.id = w.order_id) AS found ON true`,
      [notifications.map((n) => n.key), notifications.map((n) => n.orderId)],
    );
    const read = new Map(rows.map((row) => [row.notification_key, row]));
    // A key twice in the batch is sent by its first notification; the others end as it does.
    const senders = new Map<string, Promise<Ended>>();
    const ends = notifications.map((notification) => {
      const row = read.get(notification.key)!;
      if (!row.fresh) return Promise.resolve<Ended>({ outcome: 'already_sent' });
      const sending = senders.get(notification.key);
      if (sending) return sending.then((ended) => (isSent(ended) ? { outcome: 'already_sent' } : ended));
      const ended = notification.send(row.id ? toOrder(row as OrderRow) : undefined).then(
        (outcome): Ended => ({ outcome }),
        (error: unknown): Ended => ({ error }),
      );
      senders.set(notification.key, ended);
      return ended;
    });
    const ended = await Promise.all(ends);
    const unsent: string[] = [];
    for (const [key, sending] of senders) if (!isSent(await sending)) unsent.push(key);
    if (unsent.length > 0) await client.query('DELETE FROM notifications_sent WHERE notification_key = ANY($1::text[])', [unsent]);
    return ended;
  });
}
