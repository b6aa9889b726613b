import { percentile, round } from '../../test/faults/support/load.js';

/*
 * The pure parts of the capacity benchmark (`npm run bench -- capacity`): the rate schedule, the
 * arrival times of an open loop, the verdict on one step against the SLO, the capacity over the
 * steps, counter deltas per order, and CPU time per process tree from /proc/<pid>/stat.
 */

export interface ScheduleOptions {
  startRate: number;
  rateStep: number;
  maxRate: number;
  /** An explicit list of rates; overrides start/step/max when given. */
  rates?: readonly number[];
}

/** The arrival rates (shoppers per second) to run, in order. */
export function rateSchedule(options: ScheduleOptions): number[] {
  const rates = options.rates?.length
    ? [...options.rates]
    : (() => {
        if (!(options.rateStep > 0)) throw new Error('the rate step must be above 0');
        const out: number[] = [];
        // Rounded so 0.1-steps do not drift past maxRate through float error.
        for (let rate = options.startRate; rate <= options.maxRate + 1e-9; rate = Math.round((rate + options.rateStep) * 1e6) / 1e6) out.push(rate);
        return out;
      })();
  if (rates.length === 0) throw new Error('the rate schedule is empty (start rate above the max rate?)');
  for (const rate of rates) if (!(rate > 0 && Number.isFinite(rate))) throw new Error(`rate ${rate} is not a positive number`);
  return rates;
}

/**
 * The unmeasured load before the first step: half its rate (at least 20/s) for 10 s. A first step
 * that came after only a few dozen orders measured a cold start: with the JIT, the heap and the
 * pools still growing, runs that began at 75 or 100/s missed the SLO by 0.7-6.4 s where the same rates
 * passed after a step below them (docs/performance.md, issue 21, ninth session).
 */
export function warmUpLoad(firstRate: number): { rate: number; durationS: number } {
  return { rate: Math.max(20, Math.round(firstRate / 2)), durationS: 10 };
}

/** Open loop: shopper i arrives i/rate seconds after the step starts, whatever happened to the others. */
export function arrivalOffsetsMs(rate: number, durationS: number): number[] {
  const count = Math.round(rate * durationS);
  return Array.from({ length: count }, (_, i) => (i * 1000) / rate);
}

/** What one shopper of a step ended as; `finalAtMs` and `clickAtMs` are epoch ms (same machine clock as the database). */
export interface ShopperOutcome {
  clickAtMs: number;
  addStatus: number;
  checkoutStatus?: number;
  orderStatus?: string;
  finalAtMs?: number;
}

export const finalStatuses = ['PAID', 'PAYMENT_FAILED', 'REJECTED', 'CANCELLED'] as const;

/** What a pipeline answers a checkout it accepted, the order statuses that end it, and the one that counts as success. */
export interface PipelineEnd {
  checkoutStatus: number;
  finalStatuses: readonly string[];
  successStatus: string;
}

/** This shop: a checkout is 202, and an order counts once it is PAID. */
export const shopPipeline: PipelineEnd = { checkoutStatus: 202, finalStatuses, successStatus: 'PAID' };

/**
 * Click-to-final latency per shopper: from the click (the add request's scheduled time) to the
 * order's final status in the database. A shopper without a final order counts as infinitely slow,
 * so failures can never improve a percentile.
 */
export function clickToFinalMs(outcomes: readonly ShopperOutcome[], end: PipelineEnd = shopPipeline): number[] {
  return outcomes.map((o) => (o.finalAtMs !== undefined && o.orderStatus !== undefined && end.finalStatuses.includes(o.orderStatus) ? o.finalAtMs - o.clickAtMs : Infinity));
}

/** What the database recorded of one order: its status and the times of its hops (epoch ms). */
export interface OrderTimes {
  status: string;
  acceptedAtMs: number | undefined;
  placedAtMs: number;
  paymentStartedAtMs: number | undefined;
  finalAtMs: number;
}

/**
 * Where click-to-final went, hop by hop: p50/p99 of each gap between the times the database recorded
 * (`now()`, the start of the transaction that wrote the row; a batch's rows share its start). A lag
 * only one hop shows names the stage that queues. Orders never accepted or never charged (rejected)
 * have no hops and are left out.
 */
export function hopLatencies(records: readonly { clickAtMs: number; orderId?: string }[], orders: ReadonlyMap<string, OrderTimes>) {
  const gaps = { clickToAccepted: [] as number[], acceptedToPlaced: [] as number[], placedToPaymentStarted: [] as number[], paymentStartedToFinal: [] as number[] };
  for (const r of records) {
    const o = r.orderId ? orders.get(r.orderId) : undefined;
    if (!o || o.acceptedAtMs === undefined || o.paymentStartedAtMs === undefined) continue;
    gaps.clickToAccepted.push(o.acceptedAtMs - r.clickAtMs);
    gaps.acceptedToPlaced.push(o.placedAtMs - o.acceptedAtMs);
    gaps.placedToPaymentStarted.push(o.paymentStartedAtMs - o.placedAtMs);
    gaps.paymentStartedToFinal.push(o.finalAtMs - o.paymentStartedAtMs);
  }
  return Object.fromEntries(Object.entries(gaps).map(([hop, values]) => [hop, { p50Ms: round(percentile(values, 50)), p99Ms: round(percentile(values, 99)) }]));
}

export interface StepVerdict {
  passed: boolean;
  p50Ms: number;
  p99Ms: number;
  /** Why the step failed; empty when it passed. */
  failures: string[];
}

/** A step meets the SLO when every shopper's order succeeded (PAID here) and click-to-final p99 <= the SLO. */
export function judgeStep(outcomes: readonly ShopperOutcome[], sloMs: number, end: PipelineEnd = shopPipeline): StepVerdict {
  const latencies = clickToFinalMs(outcomes, end);
  const p50Ms = percentile(latencies, 50);
  const p99Ms = percentile(latencies, 99);
  const failures: string[] = [];
  if (outcomes.length === 0) failures.push('no shoppers');
  const count = (predicate: (o: ShopperOutcome) => boolean) => outcomes.filter(predicate).length;
  const addFailed = count((o) => o.addStatus !== 200);
  const checkoutFailed = count((o) => o.addStatus === 200 && o.checkoutStatus !== end.checkoutStatus);
  const notSucceeded = count((o) => o.checkoutStatus === end.checkoutStatus && o.orderStatus !== end.successStatus);
  if (addFailed) failures.push(`${addFailed} add-to-cart not 200`);
  if (checkoutFailed) failures.push(`${checkoutFailed} checkout not ${end.checkoutStatus}`);
  if (notSucceeded) failures.push(`${notSucceeded} orders not ${end.successStatus}`);
  if (!(p99Ms <= sloMs)) failures.push(`click-to-final p99 ${Number.isFinite(p99Ms) ? `${Math.round(p99Ms)} ms` : 'unbounded'} > SLO ${sloMs} ms`);
  return { passed: failures.length === 0, p50Ms, p99Ms, failures };
}

/** The progress line of a step, e.g. `capacity: 100/s met the SLO: click-to-final p50 300 ms, p99 700 ms`. */
export function describeStep(bench: string, rate: number, verdict: StepVerdict): string {
  const ms = (value: number) => Math.round(value * 10) / 10;
  return `${bench}: ${rate}/s ${verdict.passed ? 'met' : 'missed'} the SLO: click-to-final p50 ${ms(verdict.p50Ms)} ms, p99 ${ms(verdict.p99Ms)} ms${verdict.failures.length ? ` (${verdict.failures.join('; ')})` : ''}`;
}

/** The highest rate among the steps that passed; undefined when none did. */
export function capacityOf(steps: readonly { rate: number; passed: boolean }[]): number | undefined {
  const passed = steps.filter((s) => s.passed).map((s) => s.rate);
  return passed.length ? Math.max(...passed) : undefined;
}

/** Whether the schedule should stop: after `limit` failed steps in a row (the SLO is past). */
export function shouldStop(steps: readonly { passed: boolean }[], limit: number): boolean {
  if (steps.length < limit) return false;
  return steps.slice(-limit).every((s) => !s.passed);
}

/** after - before for every counter present in both (a counter that appeared counts from 0). */
export function counterDeltas(before: Readonly<Record<string, number>>, after: Readonly<Record<string, number>>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [name, value] of Object.entries(after)) out[name] = value - (before[name] ?? 0);
  return out;
}

/** Each delta divided by the number of orders, rounded; empty when there were no orders. */
export function perOrder(deltas: Readonly<Record<string, number>>, orders: number, digits = 3): Record<string, number> {
  if (!(orders > 0)) return {};
  const scale = 10 ** digits;
  return Object.fromEntries(Object.entries(deltas).map(([name, value]) => [name, Math.round((value / orders) * scale) / scale]));
}

// ---------- Postgres statements ----------

export interface PostgresSnapshot {
  database: Record<string, number>;
  statements: Map<string, { calls: number; execMs: number; query: string }>;
}

const transactionControl = /^\s*(BEGIN|START TRANSACTION|COMMIT|END|ROLLBACK|SAVEPOINT|RELEASE)\b/i;

/** Statement calls and execution time between two snapshots: in total, transaction control apart, and the most frequent. */
export function statementsBetween(before: PostgresSnapshot, after: PostgresSnapshot, top = 30) {
  let calls = 0;
  let controlCalls = 0;
  let execMs = 0;
  const each: { query: string; calls: number; execMs: number }[] = [];
  for (const [id, s] of after.statements) {
    const earlier = before.statements.get(id);
    const delta = { query: s.query.replace(/\s+/g, ' ').slice(0, 120), calls: s.calls - (earlier?.calls ?? 0), execMs: s.execMs - (earlier?.execMs ?? 0) };
    if (delta.calls <= 0) continue;
    calls += delta.calls;
    execMs += delta.execMs;
    if (transactionControl.test(s.query)) controlCalls += delta.calls;
    each.push(delta);
  }
  return { calls, controlCalls, execMs, top: each.sort((a, b) => b.calls - a.calls).slice(0, top) };
}

// ---------- CPU from /proc ----------

/** The fields of /proc/<pid>/stat the bench needs; times in clock ticks. */
export interface ProcStat {
  pid: number;
  ppid: number;
  comm: string;
  utime: number;
  stime: number;
  /** CPU of children that exited and were waited for. */
  cutime: number;
  cstime: number;
}

/** Parses /proc/<pid>/stat; the command name may contain spaces and parentheses, so fields count from the last ')'. */
export function parseProcStat(text: string): ProcStat {
  const open = text.indexOf('(');
  const close = text.lastIndexOf(')');
  if (open < 0 || close < open) throw new Error(`not a /proc/<pid>/stat line: ${text.slice(0, 80)}`);
  // After the name: state(3) ppid(4) ... utime(14) stime(15) cutime(16) cstime(17), numbered from 1 as in proc(5).
  const rest = text.slice(close + 2).trim().split(/\s+/);
  const field = (n: number) => Number(rest[n - 3]);
  return { pid: Number(text.slice(0, open).trim()), ppid: field(4), comm: text.slice(open + 1, close), utime: field(14), stime: field(15), cutime: field(16), cstime: field(17) };
}

/**
 * CPU ticks of the given roots and all their live descendants, each with its waited-for children
 * (cutime/cstime: a Postgres backend that exited during the step is in the postmaster's cutime),
 * by command name (under the real host: `dotnet` for the host, `node` for its language worker).
 * With `selfOnly`, just the roots' own threads (the bench process, whose children are other groups).
 */
export function treeTicksByCommand(processes: readonly ProcStat[], roots: readonly number[], selfOnly = false): Record<string, number> {
  const byPid = new Map(processes.map((p) => [p.pid, p]));
  const children = new Map<number, number[]>();
  for (const p of processes) children.set(p.ppid, [...(children.get(p.ppid) ?? []), p.pid]);
  const seen = new Set<number>();
  const stack = [...roots];
  const ticks: Record<string, number> = {};
  while (stack.length) {
    const pid = stack.pop()!;
    if (seen.has(pid)) continue;
    seen.add(pid);
    const p = byPid.get(pid);
    if (!p) continue;
    ticks[p.comm] = (ticks[p.comm] ?? 0) + p.utime + p.stime + (selfOnly ? 0 : p.cutime + p.cstime);
    if (!selfOnly) stack.push(...(children.get(pid) ?? []));
  }
  return ticks;
}

/** All of a tree's ticks (see treeTicksByCommand). */
export function treeTicks(processes: readonly ProcStat[], roots: readonly number[], selfOnly = false): number {
  return Object.values(treeTicksByCommand(processes, roots, selfOnly)).reduce((a, b) => a + b, 0);
}

/** How late the load generator sent each arrival against its schedule (ms), summarised. */
export function lateness(scheduledMs: readonly number[], sentMs: readonly number[]): { p50Ms: number; p99Ms: number; maxMs: number } {
  const late = scheduledMs.map((s, i) => Math.max(0, sentMs[i]! - s));
  return { p50Ms: percentile(late, 50), p99Ms: percentile(late, 99), maxMs: late.length ? Math.max(...late) : NaN };
}

/** Sums every `name => number` in `rabbitmqctl eval 'rabbit_global_counters:overview().'` by name (across protocols and queue types). */
export function parseRabbitCounters(text: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [, name, value] of text.matchAll(/(\w+)\s*=>\s*(-?\d+)/g)) out[name!] = (out[name!] ?? 0) + Number(value);
  return out;
}
