import type pg from 'pg';
import type { AcceptOutcome, CheckoutAccepted, CheckoutClaim, CheckoutLedger, RequestKey } from '../../domain/checkout.js';
import type { OutgoingEvent } from '../../domain/events.js';
import { uuidv7 } from '../../domain/ids.js';
import { outboxInsert, outboxValues, sweepAfterSeconds, type OutboxRelay } from './outbox.js';
import { Coalesced, CoalescedLookup } from './coalesced.js';
import { inTransaction, query } from './pool.js';

/** How long an Idempotency-Key answers with its first response. */
export const idempotencyKeyTtlHours = 24;

/** Rolls the accepting transaction back when the request's key already names another answer. */
class KeyRecorded extends Error {
  constructor(readonly recorded: { fingerprint: string; accepted: CheckoutAccepted }) {
    super('Idempotency-Key already recorded');
  }
}

interface KeyRow {
  fingerprint: string;
  checkout_id: string;
  order_id: string;
}

/** The statement raised undo_statement_if's SQLSTATE (migrations/1732500000032_undo_statement.sql): nothing of it was written. */
const undone = (error: unknown) => (error as { code?: string }).code === 'SH001';

/**
 * The claim's checkout, written unless its order id is taken (a retry, or an abandoned claim), and its
 * CartCheckedOut in one statement: the outbox row only if the checkout is new.
 */
const acceptSql = `WITH accepted AS (
    INSERT INTO checkouts (order_id, checkout_id, user_id, state, event) VALUES ($1, $2, $3, 'ACCEPTED', $4) ON CONFLICT DO NOTHING RETURNING order_id
  ) ${outboxInsert('accepted', 5)}`;

const acceptValues = (userId: string, claim: CheckoutClaim, event: OutgoingEvent) => [claim.orderId, claim.checkoutId, userId, JSON.stringify(claim.event), ...outboxValues(event)];

interface Acceptance {
  userId: string;
  claim: CheckoutClaim;
  key: RequestKey | undefined;
  event: OutgoingEvent;
}

/**
 * New checkouts in one statement, each with its key and its CartCheckedOut. One is written when its
 * order is new (and the first of the statement to name it); any other writes nothing and answers
 * false, for the full transaction to decide. Checkouts go in before keys, in order_id order and then
 * key order, as the full transaction takes them, so statements and transactions running at once
 * cannot deadlock. A key already taken (or named twice in the statement) undoes the whole statement
 * (SH001), and each of its checkouts is tried again alone.
 */
async function acceptNewCheckouts(pool: pg.Pool, inputs: Acceptance[]): Promise<boolean[]> {
  const { rows } = await query<{ accepted: boolean }>(
    pool,
    `WITH wanted AS (
       SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::jsonb[], $5::text[], $6::text[], $7::uuid[], $8::text[], $9::text[])
         WITH ORDINALITY AS w(order_id, checkout_id, user_id, event, key_hash, fingerprint, event_id, traceparent, tracestate, n)
     ), fresh AS (
       SELECT DISTINCT ON (order_id) * FROM wanted w WHERE NOT EXISTS (SELECT 1 FROM checkouts c WHERE c.order_id = w.order_id) ORDER BY order_id, n
     ), accepted AS (
       INSERT INTO checkouts (order_id, checkout_id, user_id, state, event)
       SELECT order_id, checkout_id, user_id, 'ACCEPTED', event FROM fresh ORDER BY order_id
       ON CONFLICT DO NOTHING RETURNING order_id
     ), keyed AS (
       SELECT f.* FROM fresh f JOIN accepted USING (order_id) WHERE f.key_hash IS NOT NULL
     ), recorded AS (
       INSERT INTO checkout_requests AS r (user_id, key_hash, fingerprint, order_id)
       SELECT DISTINCT ON (user_id, key_hash) user_id, key_hash, fingerprint, order_id FROM keyed ORDER BY user_id, key_hash, n
       ON CONFLICT (user_id, key_hash) DO UPDATE SET fingerprint = EXCLUDED.fingerprint, order_id = EXCLUDED.order_id, created_at = now()
       WHERE r.created_at <= now() - make_interval(hours => $10) RETURNING order_id
     ), outboxed AS (
       INSERT INTO outbox (id, type, payload, traceparent, tracestate, relay_after)
       SELECT event_id, 'CartCheckedOut', event, traceparent, tracestate, clock_timestamp() + make_interval(secs => $11::float8)
         FROM fresh WHERE order_id IN (SELECT order_id FROM accepted) ORDER BY n
     )
     SELECT w.n IN (SELECT f.n FROM fresh f JOIN accepted a USING (order_id)) AS accepted FROM wanted w
      WHERE NOT undo_statement_if((SELECT count(*) FROM keyed) > (SELECT count(*) FROM recorded), 'an Idempotency-Key is taken')
      ORDER BY w.n`,
    [
      inputs.map(({ claim }) => claim.orderId),
      inputs.map(({ claim }) => claim.checkoutId),
      inputs.map(({ userId }) => userId),
      inputs.map(({ claim }) => JSON.stringify(claim.event)),
      inputs.map(({ key }) => key?.keyHash ?? null),
      inputs.map(({ key }) => key?.fingerprint ?? null),
      inputs.map(({ event }) => event.id),
      inputs.map(({ event }) => event.trace?.traceparent ?? null),
      inputs.map(({ event }) => event.trace?.tracestate ?? null),
      idempotencyKeyTtlHours,
      sweepAfterSeconds,
    ],
  );
  return rows.map((row) => row.accepted);
}

const keyId = (key: { userId: string; keyHash: string }) => JSON.stringify([key.userId, key.keyHash]);

const acceptedOf = (row: { checkout_id: string; order_id: string }): CheckoutAccepted => ({ checkoutId: row.checkout_id, orderId: row.order_id, status: 'PENDING' });

/**
 * Accepted checkouts in Postgres. The row's primary key is the claim's orderId: accepting and
 * abandoning the same claim race on it, and whichever commits first decides for good.
 */
export function postgresCheckoutLedger(pool: pg.Pool, relay: OutboxRelay): CheckoutLedger {
  /**
   * The common case, a new checkout with its key (if any) new or expired, in one autocommit statement
   * instead of a transaction of four; under load, the new checkouts that arrive while two are being
   * written share the next statement and its commit (two, so that a checkout rarely waits a whole
   * statement for its turn). False (nothing written) sends it to the full transaction below.
   */
  const newCheckouts = new Coalesced<Acceptance, boolean>((inputs) => acceptNewCheckouts(pool, inputs), { parallel: 2, oneByOne: undone });
  const acceptNew = (acceptance: Acceptance) => newCheckouts.call(acceptance).catch((error: unknown) => (undone(error) ? false : Promise.reject(error)));

  // Key lookups (findByKey): under load, one statement answers all waiting lookups.
  const keyLookup = new CoalescedLookup<{ userId: string; keyHash: string }, KeyRow>(
    async (keys) => {
      const { rows } = await query<KeyRow & { user_id: string; key_hash: string }>(
        pool,
        `SELECT r.user_id, r.key_hash, r.fingerprint, c.checkout_id, c.order_id
           FROM unnest($1::text[], $2::text[]) AS k(user_id, key_hash)
           JOIN checkout_requests r ON r.user_id = k.user_id AND r.key_hash = k.key_hash
           JOIN checkouts c USING (order_id)
          WHERE r.created_at > now() - make_interval(hours => $3)`,
        [keys.map((key) => key.userId), keys.map((key) => key.keyHash), idempotencyKeyTtlHours],
      );
      return new Map(rows.map((row) => [keyId({ userId: row.user_id, keyHash: row.key_hash }), row]));
    },
    (key) => keyId(key),
  );
  return {
    async findByKey(userId, keyHash) {
      const recorded = await keyLookup.get({ userId, keyHash });
      return recorded && { fingerprint: recorded.fingerprint, accepted: acceptedOf(recorded) };
    },

    async accept(userId, claim, key, trace) {
      const event = { id: uuidv7(), type: 'CartCheckedOut' as const, payload: claim.event, trace };
      if (await acceptNew({ userId, claim, key, event })) {
        void relay.publishCommitted([event]);
        return { state: 'accepted' };
      }
      let inserted = false;
      let outcome: AcceptOutcome;
      try {
        outcome = await inTransaction(pool, async (client) => {
          inserted = false;
          const { rowCount } = await client.query(acceptSql, acceptValues(userId, claim, event));
          if (rowCount === 1) {
            inserted = true;
          } else {
            const { rows } = await client.query<{ state: string }>('SELECT state FROM checkouts WHERE order_id = $1', [claim.orderId]);
            if (rows[0]?.state === 'ABANDONED') return { state: 'abandoned' as const };
          }
          if (!key) return { state: 'accepted' as const };
          // Two requests with one key race here; the first row stands (an expired one is replaced). A row
          // returned is this request's (written now), so only a key found taken is read back.
          const written = await client.query({
            text: `INSERT INTO checkout_requests AS r (user_id, key_hash, fingerprint, order_id) VALUES ($1, $2, $3, $4)
                   ON CONFLICT (user_id, key_hash) DO UPDATE SET fingerprint = EXCLUDED.fingerprint, order_id = EXCLUDED.order_id, created_at = now()
                   WHERE r.created_at <= now() - make_interval(hours => $5) RETURNING 1`,
            values: [userId, key.keyHash, key.fingerprint, claim.orderId, idempotencyKeyTtlHours],
          });
          if (written.rowCount === 1) return { state: 'accepted' as const };
          const { rows } = await client.query<{ fingerprint: string; checkout_id: string; order_id: string }>(
            'SELECT r.fingerprint, c.checkout_id, c.order_id FROM checkout_requests r JOIN checkouts c USING (order_id) WHERE r.user_id = $1 AND r.key_hash = $2',
            [userId, key.keyHash],
          );
          const recorded = rows[0]!;
          if (recorded.order_id === claim.orderId && recorded.fingerprint === key.fingerprint) return { state: 'accepted' as const };
          // The key already names another checkout (or this one with another body): nothing of this
          // transaction may stand, or an order would exist that no answer names.
          throw new KeyRecorded({ fingerprint: recorded.fingerprint, accepted: acceptedOf(recorded) });
        });
      } catch (error) {
        if (!(error instanceof KeyRecorded)) throw error;
        return { state: 'key_conflict', recorded: error.recorded };
      }
      // Not awaited: the checkout is durable once committed, and a slow or unreachable broker must not
      // hold the client's answer (the relay logs a failure and the sweep publishes the row later).
      if (inserted) void relay.publishCommitted([event]);
      return outcome;
    },

    async pruneExpiredKeys(limit) {
      const { rowCount } = await query(
        pool,
        `DELETE FROM checkout_requests WHERE ctid IN (SELECT ctid FROM checkout_requests WHERE created_at <= now() - make_interval(hours => $1) LIMIT $2)`,
        [idempotencyKeyTtlHours, limit],
      );
      return rowCount ?? 0;
    },

    async abandon(userId, claim) {
      const abandoned = await query(
        pool,
        `INSERT INTO checkouts (order_id, checkout_id, user_id, state) VALUES ($1, $2, $3, 'ABANDONED') ON CONFLICT DO NOTHING`,
        [claim.orderId, claim.checkoutId, userId],
      );
      if (abandoned.rowCount === 1) return 'abandoned';
      // A separate statement: under READ COMMITTED it sees the row whose commit the INSERT waited for.
      // PLACED is accepted too (its order exists): the claim's lines were ordered and must leave the cart.
      const { rows } = await query<{ state: string }>(pool, 'SELECT state FROM checkouts WHERE order_id = $1', [claim.orderId]);
      return rows[0]!.state === 'ABANDONED' ? 'abandoned' : 'accepted';
    },
  };
}
