import { performance } from 'node:perf_hooks';
import type pg from 'pg';
import type { CheckoutAccepted, CheckoutLedger } from '../../domain/checkout.js';
import { uuidv7 } from '../../domain/ids.js';
import { insertOutboxRow, type OutboxRelay } from './outbox.js';
import { inTransaction, query } from './pool.js';

/** How long an Idempotency-Key answers with its first response. */
export const idempotencyKeyTtlHours = 24;

const acceptedOf = (row: { checkout_id: string; order_id: string }): CheckoutAccepted => ({ checkoutId: row.checkout_id, orderId: row.order_id, status: 'PENDING' });

/**
 * Accepted checkouts in Postgres. The row's primary key is the claim's orderId: accepting and
 * abandoning the same claim race on it, and whichever commits first decides for good.
 */
export function postgresCheckoutLedger(pool: pg.Pool, relay: OutboxRelay): CheckoutLedger {
  return {
    async findByKey(userId, keyHash) {
      const { rows } = await query<{ fingerprint: string; checkout_id: string; order_id: string }>(
        pool,
        {
          name: 'checkout-requests-find',
          text: `SELECT r.fingerprint, c.checkout_id, c.order_id FROM checkout_requests r JOIN checkouts c USING (order_id)
                  WHERE r.user_id = $1 AND r.key_hash = $2 AND r.created_at > now() - make_interval(hours => $3)`,
        },
        [userId, keyHash, idempotencyKeyTtlHours],
      );
      return rows[0] && { fingerprint: rows[0].fingerprint, accepted: acceptedOf(rows[0]) };
    },

    async accept(userId, claim, key, trace) {
      const event = { id: uuidv7(), type: 'CartCheckedOut' as const, payload: claim.event, trace };
      let inserted = false;
      const startedAt = performance.now();
      const outcome = await inTransaction(pool, async (client) => {
        const { rowCount } = await client.query({
          name: 'checkouts-accept',
          text: `INSERT INTO checkouts (order_id, checkout_id, user_id, state, event) VALUES ($1, $2, $3, 'ACCEPTED', $4) ON CONFLICT DO NOTHING`,
          values: [claim.orderId, claim.checkoutId, userId, JSON.stringify(claim.event)],
        });
        if (rowCount === 1) {
          inserted = true;
          await insertOutboxRow(client, event);
        } else {
          const { rows } = await client.query<{ state: string }>('SELECT state FROM checkouts WHERE order_id = $1', [claim.orderId]);
          if (rows[0]?.state === 'ABANDONED') return { state: 'abandoned' as const };
        }
        if (!key) return { state: 'accepted' as const };
        // Two requests with one key race here; the first row stands and the other is told what it holds.
        await client.query({
          name: 'checkout-requests-insert',
          text: 'INSERT INTO checkout_requests (user_id, key_hash, fingerprint, order_id) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING',
          values: [userId, key.keyHash, key.fingerprint, claim.orderId],
        });
        const { rows } = await client.query<{ fingerprint: string; checkout_id: string; order_id: string }>(
          'SELECT r.fingerprint, c.checkout_id, c.order_id FROM checkout_requests r JOIN checkouts c USING (order_id) WHERE r.user_id = $1 AND r.key_hash = $2',
          [userId, key.keyHash],
        );
        const recorded = rows[0]!;
        if (recorded.order_id === claim.orderId && recorded.fingerprint === key.fingerprint) return { state: 'accepted' as const };
        return { state: 'key_conflict' as const, recorded: { fingerprint: recorded.fingerprint, accepted: acceptedOf(recorded) } };
      });
      // Not awaited: the checkout is durable once committed, and a slow or unreachable broker must not
      // hold the client's answer (the relay logs a failure and the sweep publishes the row later).
      if (inserted) void relay.publishCommitted([event], startedAt);
      return outcome;
    },

    async abandon(userId, claim) {
      const abandoned = await query(
        pool,
        { name: 'checkouts-abandon', text: `INSERT INTO checkouts (order_id, checkout_id, user_id, state) VALUES ($1, $2, $3, 'ABANDONED') ON CONFLICT DO NOTHING` },
        [claim.orderId, claim.checkoutId, userId],
      );
      if (abandoned.rowCount === 1) return 'abandoned';
      // A separate statement: under READ COMMITTED it sees the row whose commit the INSERT waited for.
      const { rows } = await query<{ state: string }>(pool, { name: 'checkouts-state', text: 'SELECT state FROM checkouts WHERE order_id = $1' }, [claim.orderId]);
      return rows[0]!.state === 'ACCEPTED' ? 'accepted' : 'abandoned';
    },
  };
}
