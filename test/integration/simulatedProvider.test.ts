import fc from 'fast-check';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { simulatedPaymentProvider } from '../../src/adapters/payments/simulatedProvider.js';
import { uuidv7 } from '../../src/domain/ids.js';
import { centsFromNumber, type Cents } from '../../src/domain/money.js';
import type { ChargeOutcome } from '../../src/domain/payments.js';
import { postgresUrl } from '../support/pipeline.js';
import { connectionsInUse, onStatements } from '../support/statements.js';

/*
 * The simulated provider's charges on the real Postgres ledger. Charges that arrive together are
 * recorded by one statement; each must still be what a PSP records for one request: a new key charged
 * once, a repeated key (earlier, or in the same statement) counted and answered as first recorded, a
 * request whose caller gave up before it was sent never recorded.
 */

const declineAboveCents = centsFromNumber(100)!;
const noDeadline = () => new AbortController().signal;
let db: pg.Pool;
const orderIds: string[] = [];

beforeAll(() => {
  db = new pg.Pool({ connectionString: postgresUrl, max: 6 });
});
afterAll(async () => {
  await db?.query('DELETE FROM simulated_provider_charges WHERE order_id = ANY($1::uuid[])', [orderIds]);
  await db?.end();
});

function chargeRequest(amountCents = 2_500 as Cents) {
  const orderId = uuidv7();
  orderIds.push(orderId);
  return { idempotencyKey: uuidv7(), orderId, userId: 'buyer', amountCents };
}

const ledgerRow = async (key: string) =>
  (await db.query<{ calls: number; approved: boolean; reference: string }>('SELECT calls, approved, reference FROM simulated_provider_charges WHERE idempotency_key = $1', [key])).rows[0];

const chargeStatement = (text: string) => text.includes('INSERT INTO simulated_provider_charges') && text.includes('unnest');

/** Holds `keys` uncommitted in a transaction of its own, so a statement recording one of them waits until `release`. */
async function holding(keys: string[]) {
  const client = await db.connect();
  await client.query('BEGIN');
  for (const key of keys) await client.query('INSERT INTO simulated_provider_charges (idempotency_key, order_id, amount, approved) VALUES ($1, $1, 1, true)', [key]);
  return {
    async release() {
      await client.query('ROLLBACK');
      client.release();
    },
  };
}

/** Resolves once `count` statements recording charges wait on a lock. */
async function waitingStatements(count: number) {
  for (;;) {
    const { rows } = await db.query<{ n: number }>(
      "SELECT count(*)::int AS n FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE 'INSERT INTO simulated_provider_charges%unnest%'",
    );
    if (rows[0]!.n >= count) return;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

describe('simulated provider: charges recorded together', () => {
  it('when six charges arrive at once, then three statements on at most two connections record them (two alone, then the four that waited), each charged once with its own reference', async () => {
    const counting = new pg.Pool({ connectionString: postgresUrl, max: 4 });
    let statements = 0;
    onStatements(counting, (text) => {
      if (chargeStatement(text)) statements++;
    });
    const connections = connectionsInUse(counting);
    try {
      const provider = simulatedPaymentProvider(counting, { declineAboveCents, latencyMs: 0 });
      const requests = Array.from({ length: 6 }, (_, i) => chargeRequest((i % 2 === 0 ? 2_500 : 15_000) as Cents));
      const outcomes = await Promise.all(requests.map((request) => provider.charge(request, noDeadline())));
      expect(statements).toBe(3);
      expect(connections.most()).toBe(2);
      expect(outcomes.map((outcome) => outcome.status)).toEqual(['succeeded', 'declined', 'succeeded', 'declined', 'succeeded', 'declined']);
      expect(new Set(outcomes.map((outcome) => outcome.providerReference)).size).toBe(6);
      for (const [i, request] of requests.entries()) expect(await ledgerRow(request.idempotencyKey)).toMatchObject({ calls: 1, approved: i % 2 === 0, reference: outcomes[i]!.providerReference });
    } finally {
      await counting.end();
    }
  });

  it('when one key is charged several times in one statement and again later, then it is charged once: every answer is the first record, and every call is counted', async () => {
    const provider = simulatedPaymentProvider(db, { declineAboveCents, latencyMs: 0 });
    const first = chargeRequest();
    const second = chargeRequest();
    // Both statements that may be out at once wait, so the repeats after them go in one statement.
    const held = await holding([first.idempotencyKey, second.idempotencyKey]);
    const blocked = [provider.charge(first, noDeadline()), provider.charge(second, noDeadline())];
    await waitingStatements(2);
    const key = chargeRequest();
    const repeats = [provider.charge(key, noDeadline()), provider.charge({ ...key, amountCents: 99_999 as Cents }, noDeadline()), provider.charge(key, noDeadline())];
    await held.release();
    const answers = await Promise.all(repeats);
    await Promise.all(blocked);
    expect(new Set(answers.map((answer) => JSON.stringify(answer))).size).toBe(1);
    expect(answers[0]!.status).toBe('succeeded');
    expect(await provider.charge(key, noDeadline())).toEqual(answers[0]);
    expect(await ledgerRow(key.idempotencyKey)).toMatchObject({ calls: 4, approved: true, reference: answers[0]!.providerReference });
  });

  it('when a charge waits behind busy statements and its deadline fires, then it answers at once as unknown and never reaches the ledger', async () => {
    const provider = simulatedPaymentProvider(db, { declineAboveCents, latencyMs: 0 });
    const blockers = [chargeRequest(), chargeRequest()];
    const held = await holding(blockers.map((request) => request.idempotencyKey));
    const blocked = blockers.map((request) => provider.charge(request, noDeadline()));
    await waitingStatements(2);
    const late = chargeRequest();
    const given = provider.charge(late, AbortSignal.timeout(50));
    await expect(given).rejects.toMatchObject({ code: 'dependency_unavailable' });
    const kept = chargeRequest();
    const keptAnswer = provider.charge(kept, noDeadline());
    await held.release();
    await Promise.all(blocked);
    expect((await keptAnswer).status).toBe('succeeded');
    expect(await ledgerRow(late.idempotencyKey)).toBeUndefined();
    expect(await ledgerRow(kept.idempotencyKey)).toMatchObject({ calls: 1 });
  });

  it('when Postgres refuses one charge of a statement, then only that caller gets the error and the others are recorded once', async () => {
    const provider = simulatedPaymentProvider(db, { declineAboveCents: 10 ** 15 as Cents, latencyMs: 0 });
    const blockers = [chargeRequest(), chargeRequest()];
    const held = await holding(blockers.map((request) => request.idempotencyKey));
    const blocked = blockers.map((request) => provider.charge(request, noDeadline()));
    await waitingStatements(2);
    // numeric(12, 2) holds less than 10^10.
    const requests = [chargeRequest(), chargeRequest(10 ** 12 as Cents), chargeRequest()];
    const answers = Promise.allSettled(requests.map((request) => provider.charge(request, noDeadline())));
    await held.release();
    await Promise.all(blocked);
    const [kept, refused, alsoKept] = await answers;
    expect(kept).toMatchObject({ status: 'fulfilled', value: { status: 'succeeded' } });
    expect(refused).toMatchObject({ status: 'rejected', reason: { code: '22003' } });
    expect(alsoKept).toMatchObject({ status: 'fulfilled', value: { status: 'succeeded' } });
    expect(await ledgerRow(requests[0]!.idempotencyKey)).toMatchObject({ calls: 1 });
    expect(await ledgerRow(requests[1]!.idempotencyKey)).toBeUndefined();
    expect(await ledgerRow(requests[2]!.idempotencyKey)).toMatchObject({ calls: 1 });
  });

  it('random charges at once, some keys repeated or recorded before (fast-check): each key is one record whose calls count every request, and every request for it gets that record', async () => {
    const provider = simulatedPaymentProvider(db, { declineAboveCents, latencyMs: 0 });
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.record({ key: fc.integer({ min: 0, max: 4 }), amountCents: fc.constantFrom(2_500, 15_000) }), { minLength: 1, maxLength: 12 }),
        fc.uniqueArray(fc.integer({ min: 0, max: 4 }), { maxLength: 3 }),
        async (calls, recordedBefore) => {
          const keys = Array.from({ length: 5 }, () => chargeRequest());
          const before = new Map<number, ChargeOutcome>();
          for (const key of recordedBefore) before.set(key, await provider.charge(keys[key]!, noDeadline()));
          const answers = await Promise.all(calls.map((call) => provider.charge({ ...keys[call.key]!, amountCents: call.amountCents as Cents }, noDeadline())));
          for (const [k, key] of keys.entries()) {
            const asked = calls.filter((call) => call.key === k).length + (before.has(k) ? 1 : 0);
            const row = await ledgerRow(key.idempotencyKey);
            if (asked === 0) {
              expect(row).toBeUndefined();
              continue;
            }
            expect(row?.calls).toBe(asked);
            const answered = [...(before.has(k) ? [before.get(k)!] : []), ...answers.filter((_, i) => calls[i]!.key === k)];
            for (const answer of answered) expect(answer).toEqual(answered[0]);
            expect(answered[0]!.providerReference).toBe(row!.reference);
            expect(answered[0]!.status).toBe(row!.approved ? 'succeeded' : 'declined');
            // The recorded amount is one that was asked for under the key.
            const amounts = [...(before.has(k) ? [keys[k]!.amountCents] : []), ...calls.filter((call) => call.key === k).map((call) => call.amountCents)];
            expect(amounts.map((cents) => cents <= declineAboveCents)).toContain(row!.approved);
          }
        },
      ),
      { numRuns: 40 },
    );
  });
});
