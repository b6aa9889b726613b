import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import type { Shop } from '../../test/support/shop.js';
import { freePort, listening, type PrivateServices } from '../../test/support/privateServices.js';
import { projectRoot } from '../../test/support/hostProcess.js';
import { createProducts, percentile, round } from '../../test/faults/support/load.js';
import { capacityOf, clickToFinalMs, counterDeltas, describeStep, statementsBetween, finalStatuses, hopLatencies, judgeStep, lateness, perOrder, rateSchedule, shouldStop, warmUpLoad, type OrderTimes, type ShopperOutcome } from './capacity.js';
import { cpuBetween, cpuSnapshot, pidsMatching, PostgresStats, rabbitCounters, redisStats, type ProcessGroup } from './observe.js';
import { runOpenLoop, type Shopper, type ShopperRecord } from './openLoop.js';

/*
 * `npm run bench -- capacity`: the open-loop capacity benchmark (docs/performance.md, "Capacity").
 * Per step: mint the step's shoppers (one user and token each), snapshot the counters, run the
 * arrivals at the step's rate, wait until every accepted order is final, snapshot CPU and the
 * broker, read the orders' final times, let Postgres flush its statistics, snapshot Postgres.
 * Steps are separated by that quiet settle, so each step's deltas are its own.
 */

export interface CapacityOptions {
  startRate: number;
  rateStep: number;
  maxRate: number;
  rates?: number[];
  stepDurationS: number;
  sloMs: number;
  /** Stop the schedule after this many failed steps in a row. */
  stopAfterFailures: number;
  /** How long to wait after the last arrival for the step's orders to become final. */
  drainTimeoutS: number;
  /** Quiet wait before the Postgres snapshot: a backend flushes its statistics within 10 s of going idle (PGSTAT_IDLE_INTERVAL). */
  settleS: number;
  products: number;
  requestTimeoutMs: number;
  /**
   * How the app reaches Postgres: `pgbouncer` through the private instance's PgBouncer (transaction
   * pooling, as in Azure) when the services have one, or `direct` to Postgres.
   */
  postgresPath: 'pgbouncer' | 'direct';
}

export const defaultCapacityOptions: CapacityOptions = {
  startRate: 25,
  rateStep: 25,
  maxRate: 400,
  stepDurationS: 30,
  sloMs: 1000,
  stopAfterFailures: 1,
  drainTimeoutS: 60,
  settleS: 11,
  products: 20,
  requestTimeoutMs: 10_000,
  postgresPath: 'pgbouncer',
};

/** The generator kept its schedule when arrivals were sent at most this share of the SLO late (p99). */
const latenessBudgetShareOfSlo = 0.01;

const observerRole = 'bench_observer';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export interface CapacityLine {
  bench: string;
  date: string;
  settings: Record<string, unknown>;
  results: Record<string, unknown>;
}

export interface CapacityContext {
  options: CapacityOptions;
  services: PrivateServices;
  workers: number;
  /** host.json's RabbitMQ prefetch, which both hosts read from the same app root. */
  prefetch: number;
  /** Starts the shop on the private services, with `env` added (the bench's own SMTP catcher). */
  startShop: (env: Record<string, string>) => Promise<Shop>;
  /** Called once the shop has stopped (so a CPU profile of the host is complete). */
  emit: (line: CapacityLine) => void | Promise<void>;
  log: (message: string) => void;
}

/**
 * The bench's own queries on the shop's database, as a role pg_stat_statements can leave out; its
 * commits are counted so they can be taken off pg_stat_database's.
 */
class Observer {
  commits = 0;
  private constructor(private readonly client: pg.Client) {}

  static async open(postgresUrl: string): Promise<Observer> {
    const url = new URL(postgresUrl);
    url.username = observerRole;
    const client = new pg.Client({ connectionString: url.toString() });
    await client.connect();
    return new Observer(client);
  }

  async query<R extends pg.QueryResultRow>(text: string, values: unknown[] = []): Promise<R[]> {
    const { rows } = await this.client.query<R>(text, values);
    this.commits++;
    return rows;
  }

  /**
   * Database clock minus this machine's clock (ms), from the midpoint of the fastest of a few round
   * trips, and its error bound (half that round trip). Both read the same kernel clock, so the
   * offset should be within the bound of 0.
   */
  async clockOffset(): Promise<{ offsetMs: number; boundMs: number }> {
    let best = { offsetMs: NaN, boundMs: Infinity };
    for (let i = 0; i < 5; i++) {
      const before = performance.timeOrigin + performance.now();
      const [row] = await this.query<{ ms: number }>('SELECT extract(epoch FROM clock_timestamp()) * 1000 AS ms');
      const after = performance.timeOrigin + performance.now();
      if ((after - before) / 2 < best.boundMs) best = { offsetMs: Number(row!.ms) - (before + after) / 2, boundMs: (after - before) / 2 };
    }
    return best;
  }

  async finalCount(orderIds: readonly string[]): Promise<number> {
    const [row] = await this.query<{ n: string }>(`SELECT count(*) AS n FROM orders WHERE id = ANY($1::uuid[]) AND status = ANY($2::text[])`, [orderIds, finalStatuses]);
    return Number(row!.n);
  }

  /** Each order's status and the database's times of its hops: accepted, placed, payment started, final. */
  async orders(orderIds: readonly string[]): Promise<Map<string, OrderTimes>> {
    const rows = await this.query<{ id: string; status: string; accepted_ms: number | null; placed_ms: number; payment_ms: number | null; final_ms: number }>(
      `SELECT o.id, o.status, extract(epoch FROM c.created_at) * 1000 AS accepted_ms, extract(epoch FROM o.created_at) * 1000 AS placed_ms,
              (SELECT extract(epoch FROM min(p.created_at)) * 1000 FROM payments p WHERE p.order_id = o.id) AS payment_ms,
              extract(epoch FROM o.updated_at) * 1000 AS final_ms
         FROM orders o LEFT JOIN checkouts c ON c.order_id = o.id
        WHERE o.id = ANY($1::uuid[])`,
      [orderIds],
    );
    const optional = (ms: number | null) => (ms === null ? undefined : Number(ms));
    return new Map(
      rows.map((r) => [r.id, { status: r.status, acceptedAtMs: optional(r.accepted_ms), placedAtMs: Number(r.placed_ms), paymentStartedAtMs: optional(r.payment_ms), finalAtMs: Number(r.final_ms) }]),
    );
  }

  close(): Promise<void> {
    return this.client.end();
  }
}

/** The processes whose CPU the bench reports, found from the private services' pid files and command lines. */
function processGroups(services: PrivateServices, shop: Shop): Record<string, ProcessGroup> {
  return { host: { roots: () => (shop.host.child.pid ? [shop.host.child.pid] : []), byCommand: true }, ...serviceProcessGroups(services) };
}

/** The private services' processes and the bench's own (the load generator). */
export function serviceProcessGroups(services: PrivateServices): Record<string, ProcessGroup> {
  const pidFile = (path: string) => () => (existsSync(path) ? [Number(readFileSync(path, 'utf8').split('\n')[0])] : []);
  return {
    postgres: { roots: pidFile(join(services.dir, 'pgdata', 'postmaster.pid')) },
    redis: { roots: () => pidsMatching(`redis-server 127.0.0.1:${services.ports.redis}`) },
    rabbitmq: { roots: pidFile(join(services.dir, 'rabbit', 'rabbit.pid')) },
    pgbouncer: { roots: pidFile(join(services.dir, 'pgbouncer', 'pgbouncer.pid')) },
    loadGenerator: { roots: () => [process.pid], selfOnly: true },
  };
}

/** The schedule and its limits, as both capacity benches record them. */
export function scheduleSettings(options: CapacityOptions, schedule: readonly number[]) {
  const { stepDurationS, sloMs, stopAfterFailures, drainTimeoutS, settleS } = options;
  return { schedule, stepDurationS, sloMs, stopAfterFailures, drainTimeoutS, settleS };
}

export async function benchCapacity(ctx: CapacityContext): Promise<void> {
  const { options, services, log } = ctx;
  const schedule = rateSchedule(options);
  const warmUp = warmUpLoad(schedule[0]!);
  const admin = new pg.Pool({ connectionString: services.postgresUrl, max: 2 });
  await admin.query(`DO $$ BEGIN CREATE ROLE ${observerRole} LOGIN SUPERUSER; EXCEPTION WHEN duplicate_object THEN NULL; END $$`);
  const plannedShoppers = schedule.reduce((sum, rate) => sum + Math.round(rate * options.stepDurationS), 0) + warmUp.rate * warmUp.durationS;
  const products = await createProducts(admin, options.products, Math.ceil(plannedShoppers / options.products) + 10, 19.9, 'capacity');
  await admin.end();

  // The app's pool takes POSTGRES_URL: the services' PgBouncer unless told to go direct.
  const postgresPath = options.postgresPath === 'direct' || services.env.POSTGRES_URL === services.postgresUrl ? 'direct' : 'pgbouncer';
  const mail = await startSmtpCatcher(services.dir);
  const shop = await ctx.startShop({ SMTP_URL: mail.smtpUrl, ...(postgresPath === 'direct' ? { POSTGRES_URL: services.postgresUrl } : {}) }).catch(async (error: unknown) => {
    await mail.stop();
    throw error;
  });
  const groups = { ...processGroups(services, shop), smtpCatcher: { roots: () => (mail.child.pid ? [mail.child.pid] : []) } };
  let minted = 0;
  const mint = (count: number): Promise<Shopper[]> =>
    Promise.all(
      Array.from({ length: count }, async (_, i) => {
        const name = `shopper-${process.pid}-${minted + i}`;
        return { name, token: await shop.token({ user: name }), productId: products[(minted + i) % products.length]! };
      }),
    ).finally(() => (minted += count));

  let line: CapacityLine;
  let observer: Observer | undefined;
  let pgStats: PostgresStats | undefined;
  try {
    observer = await Observer.open(services.postgresUrl);
    pgStats = await PostgresStats.open(services.postgresUrl, 'ecommerce', observerRole);
    const clock = await observer.clockOffset();
    log(`capacity: warm-up, ${warmUp.rate}/s for ${warmUp.durationS} s`);
    const warm = await runOpenLoop({ api: shop.api, shoppers: await mint(warmUp.rate * warmUp.durationS), rate: warmUp.rate, timeoutMs: options.requestTimeoutMs });
    await waitFinal(observer, warm.records.flatMap((r) => (r.orderId ? [r.orderId] : [])), options.drainTimeoutS * 1000);
    await waitQueuesEmpty(services, options.drainTimeoutS * 1000);

    // What the stack costs doing nothing (timers, heartbeats), so the per-order figures can be read against it.
    await sleep(options.settleS * 1000);
    const idleCpu = cpuSnapshot(groups);
    const idlePg = await pgStats.snapshot();
    const idleCommits = observer.commits;
    await sleep(options.settleS * 1000);
    const idleCpuAfter = cpuBetween(idleCpu, cpuSnapshot(groups));
    const idlePgAfter = await pgStats.snapshot();
    const idle = {
      seconds: round(idleCpuAfter.seconds, 1),
      coresBusy: Object.fromEntries(Object.entries(idleCpuAfter.cpuSeconds).map(([k, v]) => [k, round(v / idleCpuAfter.seconds, 3)])),
      otherCoresBusy: round(idleCpuAfter.otherCoresBusy, 2),
      postgresCommitsPerSec: round(((idlePgAfter.database.xact_commit ?? 0) - (idlePg.database.xact_commit ?? 0) - (observer.commits - idleCommits)) / idleCpuAfter.seconds, 2),
    };
    log(`capacity: idle ${JSON.stringify(idle)}`);

    const steps: StepResult[] = [];
    for (const rate of schedule) {
      const shoppers = await mint(Math.round(rate * options.stepDurationS));
      log(`capacity: ${rate}/s for ${options.stepDurationS} s (${shoppers.length} shoppers)`);
      const { step, orderIds } = await runStep(ctx, { rate, shoppers, shop, observer, pgStats, groups });
      steps.push(step);
      log(describeStep('capacity', rate, { passed: step.passed, p50Ms: step.clickToFinal.p50Ms, p99Ms: step.clickToFinal.p99Ms, failures: step.failures }));
      if (shouldStop(steps, options.stopAfterFailures)) break;
      // A backlog carried into the next step would be counted as that step's work.
      if (step.orders.notFinal > 0 && (await waitFinal(observer, orderIds, options.drainTimeoutS * 1000)) > 0) {
        log(`capacity: orders of the ${rate}/s step still not final after a second drain timeout; stopping the schedule`);
        break;
      }
    }
    const capacity = capacityOf(steps);
    line = {
      bench: 'capacity',
      date: new Date().toISOString(),
      settings: {
        ...scheduleSettings(options, schedule),
        products: options.products,
        itemsPerShopper: 1,
        services: 'private',
        postgresPath,
        host: shop.host.command ?? 'local',
        workerProcesses: ctx.workers,
        prefetch: ctx.prefetch,
        clockOffsetMs: round(clock.offsetMs, 2),
        clockOffsetBoundMs: round(clock.boundMs, 2),
        clickToFinal: 'scheduled time of the add request (the click) to orders.updated_at of the final status, epoch ms on the one machine clock',
      },
      results: {
        capacityPerSec: capacity ?? 0,
        sloMet: capacity !== undefined,
        generatorKeptUp: steps.every((s) => s.loadGenerator.keptUp),
        idle,
        steps,
      },
    };
  } finally {
    await observer?.close().catch(() => undefined);
    await pgStats?.close().catch(() => undefined);
    await shop.stop();
    await mail.stop();
  }
  await ctx.emit(line);
}

/**
 * The notifications' SMTP catcher (MailDev, as `npm run dev` runs it) as a process of its own:
 * the harness would otherwise run one inside the bench process, where receiving an email per order
 * would count as the load generator's CPU and delay its arrivals. In memory, no web interface.
 */
async function startSmtpCatcher(dir: string): Promise<{ smtpUrl: string; child: ChildProcess; stop(): Promise<void> }> {
  const port = await freePort();
  const child = spawn(process.execPath, [join(projectRoot, 'node_modules/.bin/maildev'), '--smtp', String(port), '--ip', '127.0.0.1', '--disable-web', '--max-emails', '1000', '--silent'], {
    cwd: dir,
    stdio: 'ignore',
  });
  const exited = new Promise((resolve) => child.once('exit', resolve));
  const deadline = Date.now() + 15_000;
  while (!(await listening(port))) {
    if (child.exitCode !== null || Date.now() > deadline) throw new Error(`the SMTP catcher (maildev) did not listen on ${port}`);
    await sleep(100);
  }
  return {
    smtpUrl: `smtp://127.0.0.1:${port}`,
    child,
    async stop() {
      if (child.exitCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}

/** Polls the broker until no queue holds a ready or unacknowledged message; returns the queues still busy. */
async function waitQueuesEmpty(services: PrivateServices, timeoutMs: number): Promise<string[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const busy = Object.entries(await services.rabbit.queues())
      .filter(([, q]) => q.ready + q.unacked > 0)
      .map(([name, q]) => `${name}: ${q.ready} ready, ${q.unacked} unacked`);
    if (busy.length === 0 || Date.now() > deadline) return busy;
    await sleep(250);
  }
}

async function waitFinal(observer: Observer, orderIds: readonly string[], timeoutMs: number): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const pending = orderIds.length - (await observer.finalCount(orderIds));
    if (pending === 0 || Date.now() > deadline) return pending;
    await sleep(100);
  }
}

type StepResult = Awaited<ReturnType<typeof runStep>>['step'];

async function runStep(
  ctx: CapacityContext,
  step: { rate: number; shoppers: Shopper[]; shop: Shop; observer: Observer; pgStats: PostgresStats; groups: Record<string, ProcessGroup> },
) {
  const { options, services } = ctx;
  const { observer, pgStats, groups } = step;
  const pgBefore = await pgStats.snapshot();
  const commitsBefore = observer.commits;
  const brokerBefore = await rabbitCounters(services.rabbit.ctl);
  const redisBefore = await redisStats(services.ports.redis);
  const cpuBefore = cpuSnapshot(groups);

  const load = await runOpenLoop({ api: step.shop.api, shoppers: step.shoppers, rate: step.rate, timeoutMs: options.requestTimeoutMs });
  const lastClickMs = Math.max(...load.records.map((r) => r.clickAtMs));
  const orderIds = load.records.flatMap((r) => (r.orderId ? [r.orderId] : []));
  const notFinal = await waitFinal(observer, orderIds, options.drainTimeoutS * 1000);
  const allFinalAfterS = (Date.now() - lastClickMs) / 1000;
  // Work that follows PAID (the customer's email) belongs to the order too: wait for the queues to empty.
  const queuesBusy = await waitQueuesEmpty(services, options.drainTimeoutS * 1000);

  const cpu = cpuBetween(cpuBefore, cpuSnapshot(groups));
  const redisAfter = await redisStats(services.ports.redis);
  const brokerAfter = await rabbitCounters(services.rabbit.ctl);
  const orders = await observer.orders(orderIds);
  await sleep(options.settleS * 1000);
  const pgAfter = await pgStats.snapshot();
  const observerCommits = observer.commits - commitsBefore;

  const outcomes: ShopperOutcome[] = load.records.map((r) => {
    const order = r.orderId ? orders.get(r.orderId) : undefined;
    return { clickAtMs: r.clickAtMs, addStatus: r.addStatus, checkoutStatus: r.checkoutStatus, orderStatus: order?.status, finalAtMs: order?.finalAtMs };
  });
  const verdict = judgeStep(outcomes, options.sloMs);
  const paid = outcomes.filter((o) => o.orderStatus === 'PAID').length;
  const orderCount = orderIds.length;

  const database = counterDeltas(pgBefore.database, pgAfter.database);
  database.xact_commit = (database.xact_commit ?? 0) - observerCommits;
  const statements = statementsBetween(pgBefore, pgAfter);
  // The snapshot's own INFO is counted once between the two snapshots.
  const redisCommands = (redisAfter.total_commands_processed ?? 0) - (redisBefore.total_commands_processed ?? 0) - 1;
  const broker = counterDeltas(brokerBefore, brokerAfter);
  const cpuMs = Object.fromEntries(Object.entries(cpu.cpuSeconds).map(([k, v]) => [k, v * 1000]));
  cpuMs.total = Object.values(cpu.cpuSeconds).reduce((a, b) => a + b, 0) * 1000;

  const late = lateness(
    load.records.map((r) => r.clickAtMs),
    load.records.map((r) => r.sentAtMs),
  );
  const generatorCores = cpu.cpuSeconds.loadGenerator! / cpu.seconds;
  const ms = (values: number[]) => ({ p50Ms: round(percentile(values, 50)), p99Ms: round(percentile(values, 99)) });
  const clickToFinal = clickToFinalMs(outcomes);

  const result = {
    rate: step.rate,
    durationS: options.stepDurationS,
    passed: verdict.passed,
    failures: verdict.failures,
    shoppers: load.records.length,
    clickToFinal: { p50Ms: round(verdict.p50Ms), p90Ms: round(percentile(clickToFinal, 90)), p99Ms: round(verdict.p99Ms), maxMs: round(Math.max(...clickToFinal)) },
    hops: hopLatencies(load.records, orders),
    orders: { accepted: orderCount, final: orderCount - notFinal, paid, notFinal, allFinalAfterLastClickS: round(allFinalAfterS, 2), queuesBusyAfterDrain: queuesBusy },
    http: {
      addStatuses: countBy(load.records.map((r) => String(r.addStatus))),
      checkoutStatuses: countBy(load.records.filter((r) => r.checkoutStatus !== undefined).map((r) => String(r.checkoutStatus))),
      add: ms(load.records.map((r) => r.addMs)),
      checkout: ms(load.records.flatMap((r) => (r.checkoutMs !== undefined ? [r.checkoutMs] : []))),
      firstErrors: [...new Set(load.records.flatMap((r: ShopperRecord) => (r.error ? [r.error] : [])))].slice(0, 5),
    },
    loadGenerator: {
      latenessP50Ms: round(late.p50Ms, 2),
      latenessP99Ms: round(late.p99Ms, 2),
      latenessMaxMs: round(late.maxMs, 2),
      eventLoopDelayP99Ms: round(load.eventLoopDelayP99Ms, 2),
      coresBusy: round(generatorCores, 3),
      keptUp: late.p99Ms <= options.sloMs * latenessBudgetShareOfSlo,
    },
    perOrder: {
      postgres: perOrder(
        {
          commits: database.xact_commit,
          rollbacks: database.xact_rollback ?? 0,
          statements: statements.calls,
          transactionControlStatements: statements.controlCalls,
          execMs: statements.execMs,
          walRecords: database.wal_records ?? 0,
          walWrites: database.wal_write ?? 0,
          walSyncs: database.wal_sync ?? 0,
          walBytes: database.wal_bytes ?? 0,
        },
        orderCount,
        2,
      ),
      redisCommands: perOrder({ commands: redisCommands }, orderCount, 2).commands,
      broker: perOrder(
        {
          published: broker.messages_received_total ?? 0,
          publishedWithConfirm: broker.messages_received_confirm_total ?? 0,
          confirmed: broker.messages_confirmed_total ?? 0,
          delivered: broker.messages_delivered_total ?? 0,
          acked: broker.messages_acknowledged_total ?? 0,
          redelivered: broker.messages_redelivered_total ?? 0,
        },
        orderCount,
        2,
      ),
      cpuMs: perOrder(cpuMs, orderCount, 2),
      hostCpuMsByProcess: perOrder(Object.fromEntries(Object.entries(cpu.commandSeconds.host ?? {}).map(([k, v]) => [k, v * 1000])), orderCount, 2),
    },
    cpu: {
      windowS: round(cpu.seconds, 2),
      coresBusy: Object.fromEntries(Object.entries(cpu.cpuSeconds).map(([k, v]) => [k, round(v / cpu.seconds, 3)])),
      machineCoresBusy: round(cpu.machineCoresBusy, 2),
      otherCoresBusy: round(cpu.otherCoresBusy, 2),
      machineCores: cpu.machineCores,
    },
    topStatements: statements.top.map((s) => ({ query: s.query, perOrder: round(s.calls / Math.max(1, orderCount), 2), execMsPerOrder: round(s.execMs / Math.max(1, orderCount), 3) })),
  };
  return { step: result, orderIds };
}

function countBy(values: string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const v of values) out[v] = (out[v] ?? 0) + 1;
  return out;
}
