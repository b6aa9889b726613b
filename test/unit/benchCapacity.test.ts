import { describe, expect, it } from 'vitest';
import { runArrivals } from '../../bench/lib/openLoop.js';
import {
  arrivalOffsetsMs,
  capacityOf,
  counterDeltas,
  hopLatencies,
  judgeStep,
  lateness,
  parseProcStat,
  parseRabbitCounters,
  perOrder,
  rateSchedule,
  shouldStop,
  statementsBetween,
  treeTicks,
  treeTicksByCommand,
  warmUpLoad,
  type OrderTimes,
  type ProcStat,
  type ShopperOutcome,
} from '../../bench/lib/capacity.js';
import { percentile } from '../faults/support/load.js';

/** A shopper whose order was PAID `latencyMs` after the click. */
const paid = (latencyMs: number): ShopperOutcome => ({ clickAtMs: 1_000_000, addStatus: 200, checkoutStatus: 202, orderStatus: 'PAID', finalAtMs: 1_000_000 + latencyMs });
const hundredPaid = (latencyMs: (i: number) => number) => Array.from({ length: 100 }, (_, i) => paid(latencyMs(i)));

describe('capacity bench: rate schedule', () => {
  it('the warm-up runs at half the first step\'s rate, at least 20/s, for 10 s', () => {
    expect(warmUpLoad(100)).toEqual({ rate: 50, durationS: 10 });
    expect(warmUpLoad(25)).toEqual({ rate: 20, durationS: 10 });
    expect(warmUpLoad(75)).toEqual({ rate: 38, durationS: 10 });
  });

  it('when start, step and max are given, then the rates run from start to max inclusive', () => {
    expect(rateSchedule({ startRate: 25, rateStep: 25, maxRate: 100 })).toEqual([25, 50, 75, 100]);
  });

  it('when the step is fractional, then float error neither drops the max nor adds a rate past it', () => {
    expect(rateSchedule({ startRate: 0.1, rateStep: 0.1, maxRate: 0.3 })).toEqual([0.1, 0.2, 0.3]);
  });

  it('when an explicit list is given, then it is run as given', () => {
    expect(rateSchedule({ startRate: 25, rateStep: 25, maxRate: 400, rates: [10, 20] })).toEqual([10, 20]);
  });

  it('when the schedule is empty, the step is not positive or a rate is not a number, then it is refused', () => {
    expect(() => rateSchedule({ startRate: 50, rateStep: 10, maxRate: 40 })).toThrow(/empty/);
    expect(() => rateSchedule({ startRate: 10, rateStep: 0, maxRate: 40 })).toThrow(/step/);
    expect(() => rateSchedule({ startRate: 10, rateStep: 10, maxRate: 40, rates: [10, Number('x')] })).toThrow(/not a positive number/);
  });

  it('when a step runs at R per second for D seconds, then R x D shoppers arrive 1/R s apart from 0', () => {
    const offsets = arrivalOffsetsMs(20, 2);
    expect(offsets).toHaveLength(40);
    expect(offsets[0]).toBe(0);
    expect(offsets[1]).toBe(50);
    expect(offsets.at(-1)).toBe(1950);
  });
});

describe('capacity bench: percentile from samples (nearest rank)', () => {
  it('when there are 100 samples 1..100 in any order, then p50 is 50, p99 is 99 and p100 is 100', () => {
    const samples = Array.from({ length: 100 }, (_, i) => 100 - i);
    expect(percentile(samples, 50)).toBe(50);
    expect(percentile(samples, 99)).toBe(99);
    expect(percentile(samples, 100)).toBe(100);
  });

  it('when there is one sample, then every percentile is that sample; with none, NaN', () => {
    expect(percentile([7], 1)).toBe(7);
    expect(percentile([7], 99)).toBe(7);
    expect(percentile([], 99)).toBeNaN();
  });
});

describe('capacity bench: the arrivals', () => {
  it('when arrivals run at 500/s, then each starts at its own scheduled click, 2 ms apart, without waiting for the ones before', async () => {
    const clicks: number[] = [];
    let inFlight = 0;
    let mostInFlight = 0;
    await runArrivals(500, 20, async (index, clickAtMs) => {
      clicks[index] = clickAtMs;
      mostInFlight = Math.max(mostInFlight, ++inFlight);
      await new Promise((r) => setTimeout(r, 30));
      inFlight--;
    });
    expect(clicks).toHaveLength(20);
    expect(clicks.slice(1).map((c, i) => Math.round((c - clicks[i]!) * 1000) / 1000)).toEqual(Array(19).fill(2));
    expect(mostInFlight).toBeGreaterThan(1);
  });
});

describe('capacity bench: a step against the SLO', () => {
  it('when every order is PAID and p99 equals the SLO, then the step passes', () => {
    const verdict = judgeStep(hundredPaid((i) => (i < 98 ? 100 : 1000)), 1000);
    expect(verdict).toMatchObject({ passed: true, p50Ms: 100, p99Ms: 1000, failures: [] });
  });

  it('when p99 is above the SLO, then the step fails and says by how much', () => {
    const verdict = judgeStep(hundredPaid((i) => (i < 98 ? 100 : 1001)), 1000);
    expect(verdict.passed).toBe(false);
    expect(verdict.failures).toEqual(['click-to-final p99 1001 ms > SLO 1000 ms']);
  });

  it('when one order in a hundred is not final, then the step fails although p99 is within the SLO', () => {
    const outcomes = hundredPaid(() => 100);
    outcomes[3] = { ...outcomes[3]!, orderStatus: 'PENDING', finalAtMs: undefined };
    const verdict = judgeStep(outcomes, 1000);
    expect(verdict.p99Ms).toBe(100);
    expect(verdict).toMatchObject({ passed: false, failures: ['1 orders not PAID'] });
  });

  it('when two in a hundred have no order, then p99 is unbounded: a failure never counts as fast', () => {
    const outcomes = hundredPaid(() => 100);
    outcomes[0] = { clickAtMs: 0, addStatus: 503 };
    outcomes[1] = { clickAtMs: 0, addStatus: 200, checkoutStatus: 503 };
    const verdict = judgeStep(outcomes, 1000);
    expect(verdict.p99Ms).toBe(Infinity);
    expect(verdict.failures).toEqual(['1 add-to-cart not 200', '1 checkout not 202', 'click-to-final p99 unbounded > SLO 1000 ms']);
  });

  it('when an order ended PAYMENT_FAILED, then it is final but the step fails', () => {
    const outcomes = hundredPaid(() => 100);
    outcomes[5] = { ...outcomes[5]!, orderStatus: 'PAYMENT_FAILED' };
    expect(judgeStep(outcomes, 1000)).toMatchObject({ passed: false, p99Ms: 100, failures: ['1 orders not PAID'] });
  });

  it("when the pipeline is the seed's (checkout 200, final at PENDING), then its PENDING orders pass and a missing one fails", () => {
    const seed = { checkoutStatus: 200, finalStatuses: ['PENDING'], successStatus: 'PENDING' };
    const outcomes: ShopperOutcome[] = Array.from({ length: 100 }, () => ({ clickAtMs: 0, addStatus: 200, checkoutStatus: 200, orderStatus: 'PENDING', finalAtMs: 30 }));
    expect(judgeStep(outcomes, 1000, seed)).toMatchObject({ passed: true, p99Ms: 30 });
    expect(judgeStep(outcomes, 1000)).toMatchObject({ passed: false, failures: ['100 checkout not 202', 'click-to-final p99 unbounded > SLO 1000 ms'] });
    outcomes[7] = { clickAtMs: 0, addStatus: 200, checkoutStatus: 200 };
    expect(judgeStep(outcomes, 1000, seed)).toMatchObject({ passed: false, failures: ['1 orders not PENDING'] });
  });
});

describe('capacity bench: where click-to-final went, hop by hop', () => {
  /** An order clicked at 0 whose hops took `accept`, `place`, `charge` and `finish` ms in turn. */
  const order = (accept: number, place: number, charge: number, finish: number): OrderTimes => ({
    status: 'PAID',
    acceptedAtMs: accept,
    placedAtMs: accept + place,
    paymentStartedAtMs: accept + place + charge,
    finalAtMs: accept + place + charge + finish,
  });

  it('when one hop queues, then only that hop shows the lag', () => {
    const records = Array.from({ length: 100 }, (_, i) => ({ clickAtMs: 0, orderId: `o${i}` }));
    const orders = new Map(records.map((r, i) => [r.orderId, order(5, i < 50 ? 10 : 900, 3, 4)]));
    expect(hopLatencies(records, orders)).toEqual({
      clickToAccepted: { p50Ms: 5, p99Ms: 5 },
      acceptedToPlaced: { p50Ms: 10, p99Ms: 900 },
      placedToPaymentStarted: { p50Ms: 3, p99Ms: 3 },
      paymentStartedToFinal: { p50Ms: 4, p99Ms: 4 },
    });
  });

  it('when an order has no accept or no payment (rejected), or a shopper has no order, then it is left out', () => {
    const records = [{ clickAtMs: 0, orderId: 'charged' }, { clickAtMs: 0, orderId: 'rejected' }, { clickAtMs: 0, orderId: 'unaccepted' }, { clickAtMs: 0 }];
    const orders = new Map<string, OrderTimes>([
      ['charged', order(1, 2, 3, 4)],
      ['rejected', { ...order(100, 100, 100, 100), status: 'REJECTED', paymentStartedAtMs: undefined }],
      ['unaccepted', { ...order(100, 100, 100, 100), acceptedAtMs: undefined }],
    ]);
    expect(hopLatencies(records, orders).acceptedToPlaced).toEqual({ p50Ms: 2, p99Ms: 2 });
  });
});

describe('capacity bench: capacity over the steps', () => {
  it('when some steps passed, then capacity is the highest passing rate', () => {
    expect(
      capacityOf([
        { rate: 50, passed: true },
        { rate: 100, passed: true },
        { rate: 150, passed: false },
      ]),
    ).toBe(100);
  });

  it('when no step passed, then there is no capacity', () => {
    expect(capacityOf([{ rate: 50, passed: false }])).toBeUndefined();
  });

  it('when the last N steps failed in a row, then the schedule stops; an earlier failure does not count', () => {
    const steps = [{ passed: false }, { passed: true }, { passed: false }];
    expect(shouldStop(steps, 1)).toBe(true);
    expect(shouldStop(steps, 2)).toBe(false);
    expect(shouldStop([...steps, { passed: false }], 2)).toBe(true);
    expect(shouldStop([{ passed: true }], 1)).toBe(false);
  });
});

describe('capacity bench: per-order deltas', () => {
  it('when counters moved over a step, then each delta is divided by the orders', () => {
    const deltas = counterDeltas({ xact_commit: 1000, wal_sync: 50 }, { xact_commit: 1730, wal_sync: 150, calls: 300 });
    expect(deltas).toEqual({ xact_commit: 730, wal_sync: 100, calls: 300 });
    expect(perOrder(deltas, 100)).toEqual({ xact_commit: 7.3, wal_sync: 1, calls: 3 });
  });

  it('when a step had no orders, then there is nothing per order (not a division by zero)', () => {
    expect(perOrder({ xact_commit: 5 }, 0)).toEqual({});
  });

  it('when arrivals were sent after their schedule, then lateness is measured per arrival and early sends count as 0', () => {
    expect(lateness([0, 10, 20, 30], [0, 5, 15, 33])).toEqual({ p50Ms: 0, p99Ms: 3, maxMs: 3 });
  });
});

describe('capacity bench: statements per order', () => {
  const snapshot = (statements: [string, number, string][]) => ({ database: {}, statements: new Map(statements.map(([id, calls, query]) => [id, { calls, execMs: calls * 0.1, query }])) });

  it('when statements ran during the step, then their call deltas add up, transaction control apart, new ones counted from 0', () => {
    const before = snapshot([
      ['1', 500, 'BEGIN'],
      ['2', 500, 'COMMIT'],
      ['3', 100, 'UPDATE orders SET status = $3'],
      ['4', 40, 'SELECT 1'],
    ]);
    const after = snapshot([
      ['1', 700, 'BEGIN'],
      ['2', 700, 'COMMIT'],
      ['3', 200, 'UPDATE orders SET status = $3'],
      ['4', 40, 'SELECT 1'],
      ['5', 100, 'INSERT INTO outbox (id)\n   VALUES ($1)'],
    ]);
    const delta = statementsBetween(before, after);
    expect(delta).toMatchObject({ calls: 600, controlCalls: 400 });
    expect(delta.execMs).toBeCloseTo(60);
    expect(delta.top.map((s) => [s.query, s.calls])).toEqual([
      ['BEGIN', 200],
      ['COMMIT', 200],
      ['UPDATE orders SET status = $3', 100],
      ['INSERT INTO outbox (id) VALUES ($1)', 100],
    ]);
  });
});

describe('capacity bench: CPU from /proc', () => {
  // proc(5): pid (comm) state ppid pgrp session tty_nr tpgid flags minflt cminflt majflt cmajflt utime stime cutime cstime ...
  const stat = (pid: number, comm: string, ppid: number, utime: number, stime: number, cutime = 0, cstime = 0) =>
    `${pid} (${comm}) S ${ppid} ${pid} ${pid} 0 -1 4194560 100 0 0 0 ${utime} ${stime} ${cutime} ${cstime} 20 0 1 0 123 4096 10`;

  it('when the command name holds spaces and parentheses, then the fields after it are still read', () => {
    expect(parseProcStat(stat(42, 'node (worker) 1', 7, 150, 30, 5, 1))).toEqual({ pid: 42, ppid: 7, comm: 'node (worker) 1', utime: 150, stime: 30, cutime: 5, cstime: 1 });
  });

  it('when a tree has live and exited children, then its ticks are every live member plus what each reaped', () => {
    const processes: ProcStat[] = [
      parseProcStat(stat(100, 'postgres', 1, 10, 5, 40, 20)), // postmaster; 60 ticks from backends that exited
      parseProcStat(stat(101, 'postgres', 100, 200, 100)),
      parseProcStat(stat(102, 'postgres', 100, 7, 3)),
      parseProcStat(stat(200, 'redis-server', 1, 1000, 1000)), // another group
    ];
    expect(treeTicks(processes, [100])).toBe(15 + 60 + 300 + 10);
    expect(treeTicks(processes, [100], true)).toBe(15);
    expect(treeTicks(processes, [999])).toBe(0);
  });

  it('when the real host runs its language worker as a child, then the tree is split by command name', () => {
    const processes: ProcStat[] = [parseProcStat(stat(300, 'dotnet', 1, 500, 100, 2, 0)), parseProcStat(stat(301, 'node', 300, 250, 50)), parseProcStat(stat(302, 'node', 300, 5, 5))];
    expect(treeTicksByCommand(processes, [300])).toEqual({ dotnet: 602, node: 310 });
  });
});

describe('capacity bench: broker counters', () => {
  it('when counters appear under several queue types, then they are summed by name', () => {
    const text = `#{[{protocol,amqp091}] =>
      #{messages_confirmed_total => 300,messages_received_total => 300,publishers => -1},
  [{protocol,amqp091},{queue_type,rabbit_classic_queue}] =>
      #{messages_acknowledged_total => 290,messages_delivered_total => 295},
  [{protocol,amqp091},{queue_type,rabbit_quorum_queue}] =>
      #{messages_acknowledged_total => 10,messages_delivered_total => 5}}`;
    expect(parseRabbitCounters(text)).toEqual({ messages_confirmed_total: 300, messages_received_total: 300, publishers: -1, messages_acknowledged_total: 300, messages_delivered_total: 300 });
  });
});
