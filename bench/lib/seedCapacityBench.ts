import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { freePort, listening, type PrivateServices } from '../../test/support/privateServices.js';
import { projectRoot } from '../../test/support/hostProcess.js';
import { httpClient, percentile, round } from '../../test/faults/support/load.js';
import { capacityOf, clickToFinalMs, counterDeltas, describeStep, judgeStep, lateness, perOrder, rateSchedule, shouldStop, warmUpLoad, type PipelineEnd, type ShopperOutcome } from './capacity.js';
import { scheduleSettings, serviceProcessGroups, type CapacityLine, type CapacityOptions } from './capacityBench.js';
import { cpuBetween, cpuSnapshot, PostgresStats, rabbitCounters, type ProcessGroup } from './observe.js';
import { runArrivals, type ShopperRecord } from './openLoop.js';

/*
 * `npm run bench -- seed-capacity`: the capacity benchmark's open loop against the seed tutorial's
 * own cart and orders services (bench/seed/, as ../shared/seeds has them), on the same private
 * services, so the "side by side on one machine" can be repeated on any box. A shopper adds
 * one item (`POST /cart/add`) and checks out (`POST /cart/checkout`); the seed's order is final when
 * its PENDING row exists, so click-to-final ends at that row's insert. No auth, no durability, no
 * payment: it is the floor this project's pipeline is compared with, not a design.
 */

const observerRole = 'bench_observer';
const seedDatabase = 'seed';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const ms = (values: number[]) => ({ p50Ms: round(percentile(values, 50)), p99Ms: round(percentile(values, 99)) });

/** The seed's checkout answers 200 and its order ends at PENDING. */
const seedPipeline: PipelineEnd = { checkoutStatus: 200, finalStatuses: ['PENDING'], successStatus: 'PENDING' };

/**
 * The seed's schema is not in the tutorial; the orders service inserts (userId, status). `created_at`
 * is the bench's, from the database clock at the insert, as the shop's `orders.updated_at` is.
 */
const seedSchema = `CREATE TABLE IF NOT EXISTS orders (id serial PRIMARY KEY, userid text NOT NULL, status text NOT NULL, created_at timestamptz NOT NULL DEFAULT clock_timestamp());
CREATE INDEX IF NOT EXISTS orders_userid ON orders (userid)`;

interface SeedService {
  child: ChildProcess;
  port: number;
  /** The end of its output. */
  log(): string;
  stop(): Promise<void>;
}

/**
 * Starts one seed service (`bench/seed/<name>.mjs`) on `port`; its output goes to a file, as a
 * container's log would. Ready once it listens and has logged `readyLine` (its broker channel is open).
 */
async function startSeedService(name: 'cart' | 'orders', port: number, env: Record<string, string>, dir: string, readyLine: string): Promise<SeedService> {
  const logPath = join(dir, `seed-${name}.log`);
  const out = openSync(logPath, 'w');
  const child = spawn(process.execPath, [join(projectRoot, 'bench/seed', `${name}.mjs`)], { cwd: projectRoot, env: { ...process.env, ...env, SEED_PORT: String(port) }, stdio: ['ignore', out, out] });
  closeSync(out);
  const exited = new Promise((resolve) => child.once('exit', resolve));
  const deadline = Date.now() + 15_000;
  const ready = async () => readFileSync(logPath, 'utf8').includes(readyLine) && (await listening(port));
  while (!(await ready())) {
    if (child.exitCode !== null || Date.now() > deadline) throw new Error(`the seed's ${name} service did not start: ${readFileSync(logPath, 'utf8').slice(-500)}`);
    await sleep(100);
  }
  return {
    child,
    port,
    log: () => readFileSync(logPath, 'utf8').slice(-1000),
    async stop() {
      if (child.exitCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}

export async function benchSeedCapacity(ctx: { options: CapacityOptions; services: PrivateServices; emit: (line: CapacityLine) => void; log: (message: string) => void }): Promise<void> {
  const { options, services, log } = ctx;
  const schedule = rateSchedule(options);
  const warmUp = warmUpLoad(schedule[0]!);
  // A database of its own: the private instance's `ecommerce` holds the shop's schema, `orders` included.
  const inSeedDatabase = (url: string) => Object.assign(new URL(url), { pathname: `/${seedDatabase}` }).toString();
  const admin = new pg.Client({ connectionString: services.postgresUrl });
  await admin.connect();
  await admin.query(`DO $$ BEGIN CREATE ROLE ${observerRole} LOGIN SUPERUSER; EXCEPTION WHEN duplicate_object THEN NULL; END $$`);
  if ((await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [seedDatabase])).rowCount === 0) await admin.query(`CREATE DATABASE ${seedDatabase}`);
  await admin.end();
  const schema = new pg.Client({ connectionString: inSeedDatabase(services.postgresUrl) });
  await schema.connect();
  await schema.query(seedSchema);
  await schema.end();
  const observerUrl = new URL(inSeedDatabase(services.postgresUrl));
  observerUrl.username = observerRole;
  const observer = new pg.Client({ connectionString: observerUrl.toString() });
  await observer.connect();
  let observerCommits = 0;
  const observe = async <R extends pg.QueryResultRow>(text: string, values: unknown[]): Promise<R[]> => {
    observerCommits++;
    return (await observer.query<R>(text, values)).rows;
  };

  const postgresPath = options.postgresPath;
  const env = { SEED_REDIS_URL: services.redisUrl, SEED_AMQP_URL: services.rabbitUrl, SEED_POSTGRES_URL: inSeedDatabase(postgresPath === 'direct' ? services.postgresUrl : services.pgbouncerUrl) };
  const started: SeedService[] = [];
  const pgStats = await PostgresStats.open(services.postgresUrl, seedDatabase, observerRole);
  let line: CapacityLine;
  try {
    started.push(await startSeedService('orders', await freePort(), env, services.dir, 'Orders consumer ready'));
    started.push(await startSeedService('cart', await freePort(), env, services.dir, 'Cart publisher ready'));
    const [orders, cart] = started as [SeedService, SeedService];
    const groups: Record<string, ProcessGroup> = { seedCart: { roots: () => [cart.child.pid!] }, seedOrders: { roots: () => [orders.child.pid!] }, ...serviceProcessGroups(services) };
    const api = `http://127.0.0.1:${cart.port}`;
    // The seed's services crash on some errors (an async Express handler that throws): say so rather than time out.
    const checkAlive = () => {
      for (const service of started) if (service.child.exitCode !== null) throw new Error(`a seed service exited (${service.child.exitCode}): ${service.log()}`);
    };
    let shoppers = 0;
    const run = (rate: number, count: number) => seedOpenLoop(api, rate, Array.from({ length: count }, () => `seed-shopper-${process.pid}-${shoppers++}`), options.products, options.requestTimeoutMs);
    const finalTimes = async (userIds: readonly string[]) =>
      new Map((await observe<{ userid: string; ms: number }>('SELECT userid, extract(epoch FROM created_at) * 1000 AS ms FROM orders WHERE userid = ANY($1::text[])', [userIds])).map((r) => [r.userid, Number(r.ms)]));
    const waitOrders = async (userIds: readonly string[]) => {
      const deadline = Date.now() + options.drainTimeoutS * 1000;
      for (;;) {
        const [row] = await observe<{ n: string }>('SELECT count(*) AS n FROM orders WHERE userid = ANY($1::text[])', [userIds]);
        const missing = userIds.length - Number(row!.n);
        if (missing === 0 || Date.now() > deadline) return missing;
        await sleep(100);
      }
    };

    log(`seed-capacity: warm-up, ${warmUp.rate}/s for ${warmUp.durationS} s`);
    const warm = await run(warmUp.rate, warmUp.rate * warmUp.durationS);
    checkAlive();
    await waitOrders(warm.records.map((r) => r.name));
    await sleep(options.settleS * 1000);

    const steps = [];
    for (const rate of schedule) {
      log(`seed-capacity: ${rate}/s for ${options.stepDurationS} s`);
      const pgBefore = await pgStats.snapshot();
      const commitsBefore = observerCommits;
      const brokerBefore = await rabbitCounters(services.rabbit.ctl);
      const cpuBefore = cpuSnapshot(groups);
      const load = await run(rate, Math.round(rate * options.stepDurationS));
      checkAlive();
      const userIds = load.records.map((r) => r.name);
      const missing = await waitOrders(userIds);
      const cpu = cpuBetween(cpuBefore, cpuSnapshot(groups));
      const brokerAfter = await rabbitCounters(services.rabbit.ctl);
      const times = await finalTimes(userIds);
      await sleep(options.settleS * 1000);
      const pgAfter = await pgStats.snapshot();
      const database = counterDeltas(pgBefore.database, pgAfter.database);
      const commits = (database.xact_commit ?? 0) - (observerCommits - commitsBefore);
      const broker = counterDeltas(brokerBefore, brokerAfter);

      const outcomes: ShopperOutcome[] = load.records.map((r) => {
        const finalAtMs = times.get(r.name);
        return { clickAtMs: r.clickAtMs, addStatus: r.addStatus, checkoutStatus: r.checkoutStatus, orderStatus: finalAtMs === undefined ? undefined : 'PENDING', finalAtMs };
      });
      const verdict = judgeStep(outcomes, options.sloMs, seedPipeline);
      const clickToFinal = clickToFinalMs(outcomes, seedPipeline);
      const late = lateness(
        load.records.map((r) => r.clickAtMs),
        load.records.map((r) => r.sentAtMs),
      );
      const orderCount = load.records.filter((r) => r.checkoutStatus === 200).length;
      const cpuMs = Object.fromEntries(Object.entries(cpu.cpuSeconds).map(([k, v]) => [k, v * 1000]));
      cpuMs.total = Object.values(cpu.cpuSeconds).reduce((a, b) => a + b, 0) * 1000;
      steps.push({
        rate,
        durationS: options.stepDurationS,
        passed: verdict.passed,
        failures: verdict.failures,
        shoppers: load.records.length,
        clickToFinal: { p50Ms: round(verdict.p50Ms), p90Ms: round(percentile(clickToFinal, 90)), p99Ms: round(verdict.p99Ms), maxMs: round(Math.max(...clickToFinal)) },
        orders: { accepted: orderCount, final: orderCount - missing, missing },
        http: {
          add: ms(load.records.map((r) => r.addMs)),
          checkout: ms(load.records.flatMap((r) => (r.checkoutMs !== undefined ? [r.checkoutMs] : []))),
          firstErrors: [...new Set(load.records.flatMap((r) => (r.error ? [r.error] : [])))].slice(0, 5),
        },
        loadGenerator: { latenessP99Ms: round(late.p99Ms, 2), eventLoopDelayP99Ms: round(load.eventLoopDelayP99Ms, 2) },
        perOrder: {
          postgres: perOrder({ commits, walSyncs: database.wal_sync ?? 0 }, orderCount, 2),
          broker: perOrder({ published: broker.messages_received_total ?? 0, delivered: broker.messages_delivered_total ?? 0, acked: broker.messages_acknowledged_total ?? 0 }, orderCount, 2),
          cpuMs: perOrder(cpuMs, orderCount, 2),
        },
        cpu: {
          windowS: round(cpu.seconds, 2),
          coresBusy: Object.fromEntries(Object.entries(cpu.cpuSeconds).map(([k, v]) => [k, round(v / cpu.seconds, 3)])),
          machineCoresBusy: round(cpu.machineCoresBusy, 2),
          otherCoresBusy: round(cpu.otherCoresBusy, 2),
        },
      });
      log(describeStep('seed-capacity', rate, verdict));
      if (shouldStop(steps, options.stopAfterFailures)) break;
      if (missing > 0) {
        log(`seed-capacity: ${missing} orders of the ${rate}/s step still missing after the drain timeout; stopping the schedule`);
        break;
      }
    }
    const capacity = capacityOf(steps);
    line = {
      bench: 'seed-capacity',
      date: new Date().toISOString(),
      settings: {
        ...scheduleSettings(options, schedule),
        products: options.products,
        services: 'private',
        postgresPath,
        pipeline: "the seed tutorial's cart and orders services (bench/seed): POST /cart/add, POST /cart/checkout, a transient publish, a PENDING row",
        clickToFinal: "scheduled time of the add request (the click) to the PENDING row's insert (clock_timestamp()), epoch ms on the one machine clock",
      },
      results: { capacityPerSec: capacity ?? 0, sloMet: capacity !== undefined, steps },
    };
  } finally {
    for (const service of started.reverse()) await service.stop();
    await pgStats.close().catch(() => undefined);
    await observer.end().catch(() => undefined);
  }
  ctx.emit(line);
}

/** The seed shopper: add one of `products` (the seed's cart takes any id), then check out, as open-loop arrivals at `rate`. */
async function seedOpenLoop(api: string, rate: number, userIds: readonly string[], products: number, timeoutMs: number) {
  const client = httpClient(Infinity);
  const records: ShopperRecord[] = [];
  const timing = await runArrivals(rate, userIds.length, async (index, clickAtMs) => {
    const userId = userIds[index]!;
    const sentAtMs = performance.timeOrigin + performance.now();
    const add = await client.call(`${api}/cart/add`, { method: 'POST', body: { userId, productId: `product-${index % products}` }, timeoutMs });
    const record: ShopperRecord = { name: userId, clickAtMs, sentAtMs, addStatus: add.status, addMs: add.ms };
    records.push(record);
    if (add.status !== 200) {
      record.error = `add: ${add.error ?? add.body.slice(0, 200)}`;
      return;
    }
    const checkout = await client.call(`${api}/cart/checkout`, { method: 'POST', body: { userId }, timeoutMs });
    record.checkoutStatus = checkout.status;
    record.checkoutMs = checkout.ms;
    if (checkout.status !== 200) record.error = `checkout: ${checkout.error ?? checkout.body.slice(0, 200)}`;
  });
  client.close();
  return { records, ...timing };
}
