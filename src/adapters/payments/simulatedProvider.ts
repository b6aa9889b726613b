import type pg from 'pg';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Cents } from '../../domain/money.js';
import type { ChargeOutcome, PaymentProvider, RefundOutcome } from '../../domain/payments.js';
import { decimalFromCents } from '../../domain/money.js';
import { Coalesced } from '../postgres/coalesced.js';
import { query } from '../postgres/pool.js';
import { withinDeadline } from './deadline.js';

interface LedgerRow {
  kind: 'charge' | 'refund';
  approved: boolean;
  reason: string | null;
  reference: string;
}

const chargeOutcome = (row: LedgerRow): ChargeOutcome =>
  row.approved ? { status: 'succeeded', providerReference: row.reference } : { status: 'declined', providerReference: row.reference, reason: row.reason ?? 'declined' };
const refundOutcome = (row: LedgerRow): RefundOutcome => (row.approved ? { status: 'succeeded', providerReference: row.reference } : { status: 'failed', reason: row.reason ?? 'refused' });

interface ChargeRequest {
  idempotencyKey: string;
  orderId: string;
  amountCents: Cents;
  deadline: AbortSignal;
}

/** A value Postgres refused (SQLSTATE classes 22 and 23): that request alone fails, not its batch. */
const isDataError = (error: unknown) => /^2[23]/.test(String((error as { code?: unknown }).code));

/**
 * Records the charges that arrived together in one statement, as a PSP's ledger would record each
 * request: a new key is charged, a known key (recorded earlier, or repeated in this batch) only counts
 * the call and answers the first record. A request whose deadline fired while it waited never reaches
 * the ledger (its caller already gave up). Keys are written in order, so two batches cannot deadlock.
 */
async function recordCharges(pool: pg.Pool, requests: ChargeRequest[], declineAboveCents: Cents): Promise<(LedgerRow | undefined)[]> {
  const byKey = new Map<string, { request: ChargeRequest; calls: number }>();
  for (const request of requests) {
    if (request.deadline.aborted) continue;
    const known = byKey.get(request.idempotencyKey);
    if (known) known.calls++;
    else byKey.set(request.idempotencyKey, { request, calls: 1 });
  }
  if (byKey.size === 0) return requests.map(() => undefined);
  const keyed = [...byKey.values()].sort((a, b) => (a.request.idempotencyKey < b.request.idempotencyKey ? -1 : 1));
  const approved = keyed.map(({ request }) => request.amountCents <= declineAboveCents);
  const { rows } = await query<LedgerRow & { idempotency_key: string }>(
    pool,
    `INSERT INTO simulated_provider_charges AS c (idempotency_key, order_id, amount, approved, reason, calls)
     SELECT k, o, a, ok, r, n FROM unnest($1::uuid[], $2::uuid[], $3::numeric[], $4::boolean[], $5::text[], $6::int[]) WITH ORDINALITY AS w(k, o, a, ok, r, n, i) ORDER BY i
     ON CONFLICT (idempotency_key) DO UPDATE SET calls = c.calls + EXCLUDED.calls RETURNING idempotency_key, kind, approved, reason, reference`,
    [
      keyed.map(({ request }) => request.idempotencyKey),
      keyed.map(({ request }) => request.orderId),
      keyed.map(({ request }) => decimalFromCents(request.amountCents)),
      approved,
      approved.map((ok) => (ok ? null : 'amount exceeds the card limit')),
      keyed.map(({ calls }) => calls),
    ],
  );
  const recorded = new Map(rows.map((row) => [row.idempotency_key, row]));
  return requests.map((request) => recorded.get(request.idempotencyKey));
}

/**
 * The built-in simulated provider. Deterministic: an amount above `declineAboveCents` is declined with
 * "amount exceeds the card limit"; everything else is approved. Like a real PSP it keeps a ledger
 * (its own table) keyed by the idempotency key, charges and refunds alike, each with its own
 * reference: a repeated key answers the first outcome without a second charge or refund, and counts
 * the call (`calls`), so a second call is visible to tests, never silently absorbed. A refund names
 * the charge it refunds; a charge is refunded at most once (a refund under another key is refused),
 * and only a succeeded one. `lookup` reads a key's record without acting. `latencyMs` passes before a
 * call reaches the ledger (a slow network); a call whose deadline fires first never reaches it.
 */
export function simulatedPaymentProvider(pool: pg.Pool, options: { declineAboveCents: Cents; latencyMs: number }): PaymentProvider {
  const travel = async (deadline: AbortSignal) => {
    if (options.latencyMs > 0) await sleep(options.latencyMs, undefined, { signal: deadline });
  };
  const charges = new Coalesced((requests: ChargeRequest[]) => recordCharges(pool, requests, options.declineAboveCents), { parallel: 2, oneByOne: isDataError });
  return {
    charge: ({ idempotencyKey, orderId, amountCents }, deadline) =>
      withinDeadline(deadline, async () => {
        await travel(deadline);
        const recorded = await charges.call({ idempotencyKey, orderId, amountCents, deadline });
        // Unrecorded only when the deadline fired first, and then withinDeadline has already answered.
        return recorded ? chargeOutcome(recorded) : Promise.reject(new Error('the charge was given up before it reached the ledger'));
      }),

    refund: ({ idempotencyKey, chargeKey, orderId, amountCents }, deadline) =>
      withinDeadline(deadline, async () => {
        await travel(deadline);
        // One statement: a repeated key is counted and answered as first recorded; a new key is
        // recorded as refused when the charge is unknown, was declined or is already refunded.
        const { rows } = await query<LedgerRow>(
          pool,
          `WITH charge AS (
                     SELECT c.approved, EXISTS (SELECT 1 FROM simulated_provider_charges r WHERE r.refunds_key = c.idempotency_key) AS refunded
                       FROM simulated_provider_charges c WHERE c.idempotency_key = $2 AND c.kind = 'charge'
                   ), verdict AS (
                     SELECT CASE WHEN NOT EXISTS (SELECT 1 FROM charge) THEN 'no such charge'
                                 WHEN NOT (SELECT approved FROM charge) THEN 'the charge was declined'
                                 WHEN (SELECT refunded FROM charge) THEN 'the charge is already refunded' END AS refusal
                   )
                   INSERT INTO simulated_provider_charges AS c (idempotency_key, order_id, amount, approved, reason, kind, refunds_key)
                   SELECT $1, $3, $4, refusal IS NULL, refusal, 'refund', CASE WHEN refusal IS NULL THEN $2::uuid END FROM verdict
                   ON CONFLICT (idempotency_key) DO UPDATE SET calls = c.calls + 1 RETURNING kind, approved, reason, reference`,
          [idempotencyKey, chargeKey, orderId, decimalFromCents(amountCents)],
        );
        return refundOutcome(rows[0]!);
      }),

    lookup: (idempotencyKey, deadline) =>
      withinDeadline(deadline, async () => {
        const { rows } = await query<LedgerRow>(
          pool,
          'SELECT kind, approved, reason, reference FROM simulated_provider_charges WHERE idempotency_key = $1',
          [idempotencyKey],
        );
        const row = rows[0];
        if (!row) return undefined;
        return row.kind === 'charge' ? { kind: 'charge', ...chargeOutcome(row) } : { kind: 'refund', ...refundOutcome(row) };
      }),
  };
}
