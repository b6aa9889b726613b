import type pg from 'pg';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Cents } from '../../domain/money.js';
import type { PaymentProvider } from '../../domain/payments.js';
import { decimalFromCents } from '../../domain/money.js';
import { query } from '../postgres/pool.js';
import { withinDeadline } from './deadline.js';

/**
 * The built-in simulated provider. Deterministic: an amount above `declineAboveCents` is declined with
 * "amount exceeds the card limit"; everything else is approved. Like a real PSP it keeps a ledger
 * (its own table) keyed by the idempotency key: a repeated key returns the first result without a
 * second charge, `lookup` reads a key's result without charging, and `calls` counts charge requests
 * that reached it, so tests can assert one call per order. `latencyMs` passes before a charge reaches
 * the ledger (a slow network); a call whose deadline fires first never reaches it.
 */
export function simulatedPaymentProvider(pool: pg.Pool, options: { declineAboveCents: Cents; latencyMs: number }): PaymentProvider {
  return {
    charge: ({ idempotencyKey, orderId, amountCents }, deadline) =>
      withinDeadline(deadline, async () => {
        if (options.latencyMs > 0) await sleep(options.latencyMs, undefined, { signal: deadline });
        const approved = amountCents <= options.declineAboveCents;
        const { rows } = await query<{ approved: boolean; reason: string | null }>(
          pool,
          `INSERT INTO simulated_provider_charges AS c (idempotency_key, order_id, amount, approved, reason) VALUES ($1, $2, $3, $4, $5)
           ON CONFLICT (idempotency_key) DO UPDATE SET calls = c.calls + 1 RETURNING approved, reason`,
          [idempotencyKey, orderId, decimalFromCents(amountCents), approved, approved ? null : 'amount exceeds the card limit'],
        );
        return rows[0]!.approved ? { approved: true } : { approved: false, reason: rows[0]!.reason ?? 'declined' };
      }),

    lookup: (idempotencyKey, deadline) =>
      withinDeadline(deadline, async () => {
        const { rows } = await query<{ approved: boolean; reason: string | null }>(
          pool,
          'SELECT approved, reason FROM simulated_provider_charges WHERE idempotency_key = $1',
          [idempotencyKey],
        );
        if (!rows[0]) return undefined;
        return rows[0].approved ? { approved: true } : { approved: false, reason: rows[0].reason ?? 'declined' };
      }),
  };
}
