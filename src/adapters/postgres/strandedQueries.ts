import type pg from 'pg';
import type { CartCheckedOut } from '../../domain/events.js';
import { centsFromDecimal } from '../../domain/money.js';
import type { PendingOrder, StrandedQueries } from '../../domain/recovery.js';
import { query } from './pool.js';

/** The resolver's reads: they use partial indexes over rows still waiting (ACCEPTED checkouts, PENDING orders and payments). */
export function postgresStrandedQueries(pool: pg.Pool): StrandedQueries {
  return {
    async checkoutsWithoutOrder(idleSeconds, limit) {
      const { rows } = await query<{ event: CartCheckedOut; age_seconds: number }>(
        pool,
        `SELECT c.event, extract(epoch FROM now() - c.created_at)::float8 AS age_seconds FROM checkouts c
                  WHERE c.state = 'ACCEPTED' AND c.created_at < now() - make_interval(secs => $1)
                    AND (c.redriven_at IS NULL OR c.redriven_at < now() - make_interval(secs => $1))
                    AND NOT EXISTS (SELECT 1 FROM orders o WHERE o.id = c.order_id)
                  ORDER BY c.created_at LIMIT $2`,
        [idleSeconds, limit],
      );
      return rows.map((row) => ({ event: row.event, ageSeconds: row.age_seconds }));
    },

    async refundsInFlight(limit) {
      const { rows } = await query<{ id: string }>(
        pool,
        `SELECT id FROM payments WHERE status = 'REFUNDING' AND lease_expires_at <= clock_timestamp() AND updated_at < now() - interval '5 seconds'
                  ORDER BY lease_expires_at LIMIT $1`,
        [limit],
      );
      return rows.map((row) => row.id);
    },

    async outboxBehind() {
      // Only a recent backlog counts: a row stuck for longer must not switch re-driving off for good.
      const { rowCount } = await query(
        pool,
        "SELECT 1 FROM outbox WHERE sent_at IS NULL AND relay_after < now() AND relay_after > now() - interval '10 minutes' LIMIT 1",
      );
      return rowCount === 1;
    },

    async pendingOrders(idleSeconds, limit) {
      const { rows } = await query<{
        id: string;
        user_id: string;
        total: string;
        age_seconds: number;
        payment_id: string | null;
        payment_status: 'PENDING' | 'SUCCEEDED' | 'FAILED' | null;
        payment_reason: string | null;
        payment_amount: string | null;
      }>(
        pool,
        `SELECT o.id, o.user_id, o.total::text AS total, extract(epoch FROM now() - o.checked_out_at)::float8 AS age_seconds,
                        p.id AS payment_id, p.status AS payment_status, p.reason AS payment_reason, p.amount::text AS payment_amount
                   FROM orders o LEFT JOIN payments p ON p.order_id = o.id
                  WHERE o.status = 'PENDING'
                    AND (
                      -- A payment whose lease expired has no live provider call: taken over at once, whatever the idle bound.
                      (p.status = 'PENDING' AND p.lease_expires_at <= clock_timestamp())
                      OR (o.updated_at < now() - make_interval(secs => $1)
                          AND (o.redriven_at IS NULL OR o.redriven_at < now() - make_interval(secs => $1))
                          AND (p.id IS NULL OR (p.status <> 'PENDING' AND p.updated_at < now() - make_interval(secs => $1))))
                    )
                  ORDER BY o.updated_at LIMIT $2`,
        [idleSeconds, limit],
      );
      return rows.map(
        (row): PendingOrder => ({
          orderId: row.id,
          userId: row.user_id,
          totalCents: centsFromDecimal(row.total),
          ageSeconds: row.age_seconds,
          ...(row.payment_id
            ? {
                payment: {
                  id: row.payment_id,
                  status: row.payment_status!,
                  reason: row.payment_reason,
                  amountCents: centsFromDecimal(row.payment_amount!),
                },
              }
            : {}),
        }),
      );
    },
  };
}

/** Seconds since the oldest PENDING order was checked out (0 when none is), for the alert on orders stuck past 5 minutes. */
export async function oldestPendingOrderAgeSeconds(pool: pg.Pool): Promise<number> {
  const { rows } = await query<{ age_seconds: number | null }>(
    pool,
    // min() over the partial index orders_pending_by_checkout: one index probe.
    "SELECT extract(epoch FROM now() - min(checked_out_at))::float8 AS age_seconds FROM orders WHERE status = 'PENDING'",
  );
  return Math.max(0, rows[0]?.age_seconds ?? 0);
}
