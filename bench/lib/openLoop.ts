import { randomUUID } from 'node:crypto';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { httpClient } from '../../test/faults/support/load.js';
import { arrivalOffsetsMs } from './capacity.js';

/*
 * The open-loop load of the capacity benchmark: shopper i clicks i/rate seconds after the start,
 * whatever happened to the shoppers before (no concurrency cap, no shared connection limit, a
 * socket per request in flight), adds one item with its own token and checks out. The records keep
 * the scheduled and the actual send time of each add, so the generator's own lateness is reported.
 */

export interface Shopper {
  name: string;
  token: string;
  productId: string;
}

export interface ShopperRecord {
  name: string;
  /** Epoch ms (high resolution) the click was due; click-to-final is measured from here. */
  clickAtMs: number;
  /** Epoch ms the add request was actually sent. */
  sentAtMs: number;
  addStatus: number;
  addMs: number;
  checkoutStatus?: number;
  checkoutMs?: number;
  orderId?: string;
  error?: string;
}

const eventLoopSampleMs = 5;
const epochMs = () => performance.timeOrigin + performance.now();

export async function runOpenLoop(options: { api: string; shoppers: readonly Shopper[]; rate: number; timeoutMs: number }): Promise<{ records: ShopperRecord[]; eventLoopDelayP99Ms: number; arrivalsWallMs: number }> {
  const client = httpClient(Infinity);
  const records: ShopperRecord[] = [];
  const shop = async (index: number, clickAtMs: number): Promise<void> => {
    const shopper = options.shoppers[index]!;
    const sentAtMs = epochMs();
    const add = await client.call(`${options.api}/cart/items`, { method: 'POST', token: shopper.token, body: { productId: shopper.productId, quantity: 1 }, timeoutMs: options.timeoutMs });
    const record: ShopperRecord = { name: shopper.name, clickAtMs, sentAtMs, addStatus: add.status, addMs: add.ms };
    records.push(record);
    if (add.status !== 200) {
      record.error = `add: ${add.error ?? add.body.slice(0, 200)}`;
      return;
    }
    const checkout = await client.call(`${options.api}/cart/checkout`, { method: 'POST', token: shopper.token, headers: { 'idempotency-key': randomUUID() }, timeoutMs: options.timeoutMs });
    record.checkoutStatus = checkout.status;
    record.checkoutMs = checkout.ms;
    if (checkout.status === 202) record.orderId = (JSON.parse(checkout.body) as { orderId: string }).orderId;
    else record.error = `checkout: ${checkout.error ?? checkout.body.slice(0, 200)}`;
  };
  const timing = await runArrivals(options.rate, options.shoppers.length, shop);
  client.close();
  return { records, ...timing };
}

/**
 * Starts `visit(i, clickAtMs)` for arrival i at i/rate seconds (on the arrival schedule of
 * `arrivalOffsetsMs`), never waiting for earlier visits, and resolves when all have finished.
 */
export async function runArrivals(rate: number, count: number, visit: (index: number, clickAtMs: number) => Promise<void>): Promise<{ eventLoopDelayP99Ms: number; arrivalsWallMs: number }> {
  const offsets = arrivalOffsetsMs(rate, count / rate);
  const delay = monitorEventLoopDelay({ resolution: eventLoopSampleMs });
  delay.enable();
  const startAt = epochMs() + 20;
  const inFlight: Promise<void>[] = [];

  // One timer at a time, set for the next due arrival; whatever is due when it fires starts at once.
  await new Promise<void>((resolve) => {
    let next = 0;
    const tick = () => {
      const now = epochMs();
      while (next < offsets.length && startAt + offsets[next]! <= now) {
        inFlight.push(visit(next, startAt + offsets[next]!));
        next++;
      }
      if (next >= offsets.length) resolve();
      else setTimeout(tick, Math.max(0, startAt + offsets[next]! - epochMs()));
    };
    setTimeout(tick, Math.max(0, startAt - epochMs()));
  });
  const arrivalsWallMs = epochMs() - startAt;
  await Promise.all(inFlight);
  delay.disable();
  // The histogram holds whole sampling intervals (at least the resolution); the delay is what exceeds it.
  return { eventLoopDelayP99Ms: Math.max(0, delay.percentile(99) / 1e6 - eventLoopSampleMs), arrivalsWallMs };
}
