import { randomUUID } from 'node:crypto';
import { Agent, request } from 'node:http';
import type pg from 'pg';
import { orderStatuses, orderTransitions, paymentStatuses, paymentTransitions } from '../../../src/domain/orderLifecycle.js';

/*
 * A bounded checkout load generator for the fault suite and the checkout benchmark: N users, each
 * adds one item and checks out, at most C at a time (and optionally at most R users started per
 * second, so a fault lands in the middle of the load instead of failing the rest in a burst).
 * Plain node:http with a keep-alive agent (lighter than fetch; the load shares 2 cores with the
 * host), a hard per-request timeout, no retries of checkouts.
 *
 * With `cancel`, every `every`-th shopper also cancels its accepted order after the checkout, in
 * turn: at once (the order not placed yet, or its payment in flight), at a random moment up to
 * `maxDelayMs` later, or once its order page (GET, polled) shows it PAID or failed; every other one
 * of them with a double click (two cancels at once). A cancel
 * is retried like a real client retries: on a timeout, a refused connection or a 502/503/504, with
 * backoff, for at most `retryForMs`; and on a 404, which a cancel sent right after the checkout's 202
 * gets until the orders function has placed the order (the client knows its orderId was accepted).
 */

export interface HttpResult {
  status: number; // 0: network error, -1: timeout
  body: string;
  ms: number;
  error?: string;
}

export function httpClient(maxSockets: number) {
  const agent = new Agent({ keepAlive: true, maxSockets, maxFreeSockets: maxSockets });
  function call(url: string, options: { method?: string; token?: string; body?: unknown; headers?: Record<string, string>; timeoutMs?: number } = {}): Promise<HttpResult> {
    const started = performance.now();
    const body = options.body === undefined ? undefined : JSON.stringify(options.body);
    return new Promise((resolve) => {
      let settled = false;
      const done = (result: Omit<HttpResult, 'ms'>) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        resolve({ ...result, ms: performance.now() - started });
      };
      const req = request(
        url,
        {
          method: options.method ?? 'GET',
          agent,
          headers: {
            ...(options.token ? { authorization: `Bearer ${options.token}` } : {}),
            ...(body !== undefined ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } : {}),
            ...options.headers,
          },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => done({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
          res.on('error', (e) => done({ status: 0, body: '', error: e.message }));
        },
      );
      const timer = setTimeout(() => {
        done({ status: -1, body: '', error: 'timeout' });
        req.destroy(new Error('timeout'));
      }, options.timeoutMs ?? 10_000);
      req.on('error', (e) => done({ status: 0, body: '', error: (e as NodeJS.ErrnoException).code ?? e.message }));
      if (body !== undefined) req.write(body);
      req.end();
    });
  }
  return { call, close: () => agent.destroy() };
}

export interface LoadUser {
  name: string;
  token: string;
  productId: string;
}

export interface CheckoutRecord {
  user: string;
  productId: string;
  idempotencyKey: string;
  addStatus: number;
  addMs: number;
  status: number | undefined; // undefined: checkout not attempted (the add failed)
  ms: number;
  orderId?: string;
  error?: string;
  /** ms since the load started, when the checkout was sent. */
  at: number;
}

/** One click on "cancel": its last answer after its retries. */
export interface CancelClick {
  status: number; // 0: network error, -1: timeout (the last attempt's)
  /** Every answer, the retried ones first. */
  answers: number[];
  /** From the click to its last answer. */
  ms: number;
  /** The slowest single attempt. */
  slowestAttemptMs: number;
  /** When the last attempt was sent (epoch ms): a 404 then is wrong only for an order placed before it. */
  lastSentAt: number;
  /** The order's status in a 202 (PENDING while its payment is in flight: cancelled once the result is known). */
  orderStatus?: string;
  code?: string;
}

/** When a shopper cancels: at once, after a random delay, or once its order page shows it settled. */
export const cancelMoments = ['atOnce', 'soon', 'oncePaid'] as const;
export type CancelMoment = (typeof cancelMoments)[number];

export interface CancelRecord {
  user: string;
  orderId: string;
  moment: CancelMoment;
  /** For `oncePaid`: the status the order page showed when the shopper clicked (PENDING if it never changed in time). */
  seenStatus?: string;
  /** ms since the load started, when the first click was sent. */
  at: number;
  clicks: CancelClick[];
}

export interface CancelOptions {
  /** Every `every`-th shopper cancels. */
  every: number;
  /** The latest moment after the checkout's answer a cancel is sent. */
  maxDelayMs: number;
  /** How long a click is retried before the shopper gives up. */
  retryForMs: number;
}

export interface LoadOptions {
  /** The API base (e.g. http://127.0.0.1:1234/api); a function so a restarted host can take over. */
  api: () => string;
  users: readonly LoadUser[];
  concurrency: number;
  /** Users started per second at most; unlimited when absent. */
  ratePerSecond?: number;
  timeoutMs?: number;
  /** Called once with the load's progress, e.g. to trigger a fault after some checkouts. */
  onProgress?: (done: number, records: readonly CheckoutRecord[]) => void;
  cancel?: CancelOptions;
}

/** Answers a client retries: the service was unreachable, timed out or said it is unavailable for now, or the accepted order is not placed yet. */
export const retryableCancelAnswer = (status: number) => status <= 0 || status === 404 || status === 502 || status === 503 || status === 504;

function jsonOrEmpty(body: string): { status?: string; code?: string } {
  try {
    return JSON.parse(body) as { status?: string; code?: string };
  } catch {
    return {};
  }
}

/** One click on "cancel", retried with backoff (0.25 s doubling to 4 s) until an answer that is not retryable or `retryForMs` passed. */
async function clickCancel(call: ReturnType<typeof httpClient>['call'], url: () => string, token: string, retryForMs: number, timeoutMs: number): Promise<CancelClick> {
  const started = performance.now();
  let backoffMs = 250;
  let slowestAttemptMs = 0;
  const answers: number[] = [];
  for (;;) {
    const lastSentAt = Date.now();
    const answer = await call(url(), { method: 'POST', token, timeoutMs });
    answers.push(answer.status);
    slowestAttemptMs = Math.max(slowestAttemptMs, answer.ms);
    const elapsed = performance.now() - started;
    if (!retryableCancelAnswer(answer.status) || elapsed + backoffMs > retryForMs) {
      const body = answer.status >= 200 ? jsonOrEmpty(answer.body) : {};
      return { status: answer.status, answers, ms: elapsed, slowestAttemptMs, lastSentAt, ...(answer.status === 202 ? { orderStatus: body.status } : {}), ...(body.code ? { code: body.code } : {}) };
    }
    await new Promise((r) => setTimeout(r, backoffMs));
    backoffMs = Math.min(backoffMs * 2, 4_000);
  }
}

/**
 * Resolves once every checkout is answered; the cancels still under way (waiting for an order page,
 * or retried through an outage) finish in `cancelsDone`, with when the last one did (ms since the start).
 */
export async function runCheckoutLoad(
  options: LoadOptions,
): Promise<{ records: CheckoutRecord[]; wallMs: number; cancelsDone: Promise<{ cancels: CancelRecord[]; lastDoneMs: number }> }> {
  const client = httpClient(options.concurrency);
  // Cancels have sockets of their own: a shopper's cancel does not wait behind the other shoppers' checkouts.
  const cancelClient = httpClient(16);
  const records: CheckoutRecord[] = [];
  const cancels: CancelRecord[] = [];
  const cancelling: Promise<void>[] = [];
  const started = performance.now();
  let next = 0;
  const timeoutMs = options.timeoutMs ?? 10_000;
  const worker = async () => {
    for (;;) {
      const index = next++;
      if (index >= options.users.length) return;
      if (options.ratePerSecond) {
        const due = (index / options.ratePerSecond) * 1000;
        const wait = due - (performance.now() - started);
        if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      }
      const user = options.users[index]!;
      const idempotencyKey = randomUUID();
      const add = await client.call(`${options.api()}/cart/items`, { method: 'POST', token: user.token, body: { productId: user.productId, quantity: 1 }, timeoutMs });
      const record: CheckoutRecord = { user: user.name, productId: user.productId, idempotencyKey, addStatus: add.status, addMs: add.ms, status: undefined, ms: 0, at: performance.now() - started };
      if (add.status === 200) {
        const checkout = await client.call(`${options.api()}/cart/checkout`, { method: 'POST', token: user.token, headers: { 'idempotency-key': idempotencyKey }, timeoutMs });
        record.status = checkout.status;
        record.ms = checkout.ms;
        if (checkout.error) record.error = checkout.error;
        if (checkout.status === 202) record.orderId = (JSON.parse(checkout.body) as { orderId: string }).orderId;
        const cancel = options.cancel;
        if (cancel && record.orderId && index % cancel.every === 0) {
          const nth = index / cancel.every;
          cancelling.push(cancelLater(user, record.orderId, cancel, cancelMoments[nth % cancelMoments.length]!, nth % 2 === 1));
        }
      } else if (add.error) record.error = `add: ${add.error}`;
      records.push(record);
      options.onProgress?.(records.length, records);
    }
  };
  /** Polls the order page every 500 ms until the order is no longer PENDING (any failed read is polled again), for at most `forMs`. */
  const orderPageSettled = async (user: LoadUser, orderId: string, forMs: number): Promise<string> => {
    const deadline = performance.now() + forMs;
    for (;;) {
      const page = await cancelClient.call(`${options.api()}/orders/${orderId}`, { token: user.token, timeoutMs });
      const status = page.status === 200 ? jsonOrEmpty(page.body).status : undefined;
      if ((status && status !== 'PENDING') || performance.now() > deadline) return status ?? 'PENDING';
      await new Promise((r) => setTimeout(r, 500));
    }
  };
  const cancelLater = async (user: LoadUser, orderId: string, cancel: CancelOptions, moment: CancelMoment, doubleClick: boolean) => {
    let seenStatus: string | undefined;
    if (moment === 'soon') await new Promise((r) => setTimeout(r, Math.random() * cancel.maxDelayMs));
    if (moment === 'oncePaid') seenStatus = await orderPageSettled(user, orderId, cancel.retryForMs);
    const at = performance.now() - started;
    const click = () => clickCancel(cancelClient.call, () => `${options.api()}/orders/${orderId}/cancel`, user.token, cancel.retryForMs, timeoutMs);
    const clicks = await Promise.all(doubleClick ? [click(), new Promise((r) => setTimeout(r, Math.random() * 100)).then(click)] : [click()]);
    cancels.push({ user: user.name, orderId, moment, ...(seenStatus ? { seenStatus } : {}), at, clicks });
  };
  await Promise.all(Array.from({ length: options.concurrency }, worker));
  const wallMs = performance.now() - started;
  client.close();
  const cancelsDone = Promise.all(cancelling).then(() => {
    cancelClient.close();
    return { cancels, lastDoneMs: performance.now() - started };
  });
  return { records, wallMs, cancelsDone };
}

export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

export const round = (n: number, digits = 1) => (Number.isFinite(n) ? Math.round(n * 10 ** digits) / 10 ** digits : n);

/** Inserts `count` products with `stock` each straight into the database; returns their ids. */
export async function createProducts(db: pg.Pool, count: number, stock: number, price = 9.99, prefix = 'load'): Promise<string[]> {
  const ids = Array.from({ length: count }, () => randomUUID());
  await db.query(
    `INSERT INTO products (id, name, description, price, stock)
     SELECT id, $2 || ' ' || ord, 'load test product', $3, $4 FROM unnest($1::uuid[]) WITH ORDINALITY AS t(id, ord)`,
    [ids, prefix, price, stock],
  );
  return ids;
}

/*
 * Settled: what the system itself will not change any more, read off the lifecycle's tables. An order
 * is settled in a status whose only way on is a customer's cancel (PAID) or which has none (CANCELLED,
 * PAYMENT_FAILED, REJECTED); a payment, likewise (SUCCEEDED, FAILED, REFUNDED; not PENDING or REFUNDING).
 */
const onlyByCancel = (next: object, cancelStatus: string) => Object.keys(next).every((to) => to === cancelStatus);
export const settledOrderStatuses: readonly string[] = orderStatuses.filter((status) => onlyByCancel(orderTransitions[status], 'CANCELLED'));
export const settledPaymentStatuses: readonly string[] = paymentStatuses.filter((status) => onlyByCancel(paymentTransitions[status], 'REFUNDING'));

/** Polls until every given order exists in a settled status with no payment unsettled (a refund under way counts as unsettled), or the time is up; returns the unsettled count left. */
export async function waitForFinal(db: pg.Pool, orderIds: readonly string[], timeoutMs: number): Promise<{ pending: number; waitedMs: number }> {
  const started = Date.now();
  let pending = orderIds.length;
  while (Date.now() - started < timeoutMs) {
    try {
      const { rows } = await db.query<{ n: string }>(
        `SELECT count(*) AS n FROM orders o WHERE o.id = ANY($1::uuid[]) AND o.status = ANY($2::text[])
            AND NOT EXISTS (SELECT 1 FROM payments p WHERE p.order_id = o.id AND NOT p.status = ANY($3::text[]))`,
        [orderIds, settledOrderStatuses, settledPaymentStatuses],
      );
      pending = orderIds.length - Number(rows[0]!.n);
      if (pending === 0) break;
    } catch {
      // the database may be restarting
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  return { pending, waitedMs: Date.now() - started };
}

/** Checkout-to-PAID latencies (ms) and the span from the first checkout to the last final status, from the database's own clock. */
export async function orderTimings(db: pg.Pool, orderIds: readonly string[]) {
  const { rows } = await db.query<{ ms: number; status: string }>(
    `SELECT extract(epoch FROM (updated_at - checked_out_at)) * 1000 AS ms, status FROM orders WHERE id = ANY($1::uuid[])`,
    [orderIds],
  );
  const { rows: span } = await db.query<{ ms: number | null }>(
    `SELECT extract(epoch FROM (max(updated_at) - min(checked_out_at))) * 1000 AS ms FROM orders WHERE id = ANY($1::uuid[])`,
    [orderIds],
  );
  const paid = rows.filter((r) => r.status === 'PAID').map((r) => Number(r.ms));
  return { paid: paid.length, final: rows.length, toPaid: paid, spanMs: Number(span[0]!.ms ?? NaN) };
}
