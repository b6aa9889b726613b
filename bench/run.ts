/*
 * Benchmarks (npm run bench [-- <read|checkout|jwks|capacity|seed-capacity|catalog|all> options]); JSON lines on stdout, progress on stderr.
 *
 *   read      authenticated GET /api/products?limit=20 through the local host, autocannon
 *   checkout  N users each add one item and check out (concurrency C); HTTP accept rate and latency,
 *             orders/s to a final status and checkout-to-PAID latency (from the database clock)
 *   jwks      requests with tokens naming an unknown kid: JWKS fetches seen at the key endpoint
 *   capacity  open loop: a new shopper every 1/R s adds one item and checks out, at each rate of a
 *             schedule; click-to-final p50/p99 per step, the highest rate meeting the SLO, and per
 *             order: Postgres commits and statements, Redis commands, broker publishes, CPU per process
 *   seed-capacity  the capacity open loop against the seed tutorial's cart and orders services
 *             (bench/seed, bench/lib/seedCapacityBench.ts) on the same private services: the issue's
 *             side-by-side baseline, repeatable on any box
 *   catalog   search, a category page and a sort at --products-total (100 000) products: p50/p99 of the
 *             SQL alone and of GET /api/products through the local host (bench/lib/catalogBench.ts)
 *   all       read, checkout and jwks (default; capacity and catalog run only when asked for)
 *
 * Options: --n 2000 --c 32 --duration 15 --connections 64 --profile (CPU-profile the host with
 * node --cpu-prof and print the top self-time functions; --keep-profile also keeps the .cpuprofile files) --out FILE (append the JSON lines)
 * --compare FILE (print the change against an earlier --out file) --workers N (the host's
 * FUNCTIONS_WORKER_PROCESS_COUNT for read, checkout and capacity; default 1, the host's default) --shared (read bench against
 * the shared services on 5432/6379/5672, read-only). Everything else runs against private
 * Postgres/Redis/RabbitMQ instances started for the run and removed after it.
 * Capacity: --start-rate 25 --rate-step 25 --max-rate 400 (or --rates 10,20,40) --step-duration 30
 * --slo-ms 1000 --stop-after-failures 1 --drain-timeout 60 --settle 11 --products 20 --postgres pgbouncer|direct
 * (seed-capacity takes the same schedule options and --postgres);
 * see docs/performance.md.
 */
import { createServer, type Server } from 'node:http';
import { appendFileSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { cpus, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import autocannon from 'autocannon';
import { decodeJwt, exportJWK, generateKeyPair, SignJWT } from 'jose';
import { startShop, type Shop } from '../test/support/shop.js';
import { projectRoot } from '../test/support/hostProcess.js';
import { readHostOptions } from '../src/host/hostConfig.js';
import { routeThroughLocalPgBouncer } from '../scripts/localPgBouncer.js';
import { checkPool, startPrivateServices, type PrivateServices } from '../test/support/privateServices.js';
import { createProducts, orderTimings, percentile, round, runCheckoutLoad, waitForFinal, type LoadUser } from '../test/faults/support/load.js';
import { summarizeProfileDir } from './lib/profile.js';
import { benchCapacity, defaultCapacityOptions, type CapacityOptions } from './lib/capacityBench.js';
import { rateSchedule } from './lib/capacity.js';
import { benchSeedCapacity } from './lib/seedCapacityBench.js';
import { cpuBetween, cpuSnapshot, type ProcessGroup } from './lib/observe.js';
import { catalogScenarios, plans, seedCatalog, timeHttp, timeRepository } from './lib/catalogBench.js';

type Args = {
  cmd: string;
  n: number;
  c: number;
  duration: number;
  connections: number;
  profile: boolean;
  keepProfile: boolean;
  workers: number;
  out?: string;
  compare?: string;
  shared: boolean;
  capacity: CapacityOptions;
  catalogProducts: number;
};

function parseArgs(argv: string[]): Args {
  const args: Args = { cmd: 'all', n: 2000, c: 32, duration: 15, connections: 64, profile: false, keepProfile: false, workers: 1, shared: false, capacity: { ...defaultCapacityOptions }, catalogProducts: 100_000 };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const value = () => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${a} needs a value`);
      return v;
    };
    if (a === '--n') args.n = Number(value());
    else if (a === '--c') args.c = Number(value());
    else if (a === '--duration') args.duration = Number(value());
    else if (a === '--connections') args.connections = Number(value());
    else if (a === '--workers') args.workers = Number(value());
    else if (a === '--profile') args.profile = true;
    else if (a === '--keep-profile') args.profile = args.keepProfile = true;
    else if (a === '--shared') args.shared = true;
    else if (a === '--out') args.out = value();
    else if (a === '--compare') args.compare = value();
    else if (a === '--start-rate') args.capacity.startRate = Number(value());
    else if (a === '--rate-step') args.capacity.rateStep = Number(value());
    else if (a === '--max-rate') args.capacity.maxRate = Number(value());
    else if (a === '--rates') args.capacity.rates = value().split(',').map(Number);
    else if (a === '--step-duration') args.capacity.stepDurationS = Number(value());
    else if (a === '--slo-ms') args.capacity.sloMs = Number(value());
    else if (a === '--stop-after-failures') args.capacity.stopAfterFailures = Number(value());
    else if (a === '--drain-timeout') args.capacity.drainTimeoutS = Number(value());
    else if (a === '--settle') args.capacity.settleS = Number(value());
    else if (a === '--products') args.capacity.products = Number(value());
    else if (a === '--postgres') {
      const path = value();
      if (path !== 'pgbouncer' && path !== 'direct') throw new Error(`--postgres takes pgbouncer or direct, not ${path}`);
      args.capacity.postgresPath = path;
    }
    else if (a === '--products-total') args.catalogProducts = Number(value());
    else if (!a.startsWith('-')) args.cmd = a;
    else throw new Error(`unknown option ${a}`);
  }
  if (!['read', 'checkout', 'jwks', 'capacity', 'seed-capacity', 'catalog', 'all'].includes(args.cmd)) throw new Error(`unknown bench ${args.cmd}: read, checkout, jwks, capacity, seed-capacity, catalog or all`);
  if (args.cmd === 'capacity' || args.cmd === 'seed-capacity') rateSchedule(args.capacity); // fail on a bad schedule before starting anything
  return args;
}

const machine = { cores: cpus().length, cpu: cpus()[0]?.model.trim() ?? 'unknown', memGiB: Math.round(totalmem() / 2 ** 30), node: process.version, platform: process.platform };
const log = (message: string) => process.stderr.write(`[bench] ${message}\n`);

interface BenchLine {
  bench: string;
  date: string;
  machine: typeof machine;
  settings: Record<string, unknown>;
  results: Record<string, unknown>;
  profile?: unknown;
}

function emit(line: BenchLine, args: Args): void {
  const text = JSON.stringify(line);
  process.stdout.write(`${text}\n`);
  if (args.out) appendFileSync(args.out, `${text}\n`);
  if (args.compare) compareLine(line, args.compare);
}

function compareLine(line: BenchLine, file: string): void {
  if (!existsSync(file)) {
    log(`--compare: ${file} does not exist`);
    return;
  }
  const earlier = readFileSync(file, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as BenchLine)
    .filter((l) => l.bench === line.bench)
    .at(-1);
  if (!earlier) {
    log(`--compare: no earlier ${line.bench} result in ${file}`);
    return;
  }
  const change: Record<string, { before: unknown; after: unknown; change?: string }> = {};
  for (const [key, after] of Object.entries(line.results)) {
    const before = earlier.results[key];
    if (typeof after === 'number' && typeof before === 'number') {
      change[key] = { before, after, change: before === 0 ? 'n/a' : `${after >= before ? '+' : ''}${round(((after - before) / before) * 100)}%` };
    }
  }
  process.stdout.write(`${JSON.stringify({ bench: line.bench, compare: { file, earlierDate: earlier.date, earlierSettings: earlier.settings, results: change } })}\n`);
}

/** A shop (local host + dev issuer) on the given services, optionally CPU-profiled. */
async function shopOn(args: Args, env: Record<string, string>, profileDir: string | undefined): Promise<Shop> {
  return startShop({ env: { ...env, FUNCTIONS_WORKER_PROCESS_COUNT: String(args.workers) }, nodeArgs: profileDir ? ['--cpu-prof', '--cpu-prof-dir', profileDir] : [] });
}

async function stopAndProfile(shop: Shop, profileDir: string | undefined, keep: boolean) {
  await shop.stop();
  if (!profileDir) return undefined;
  return profileOf(profileDir, keep);
}

/** The top self-time functions and areas of the CPU profiles a stopped host left in `profileDir`. */
async function profileOf(profileDir: string, keep: boolean) {
  const summaries = summarizeProfileDir(profileDir, projectRoot, 25);
  if (keep) log(`CPU profiles kept in ${profileDir} (open them in Chrome DevTools, Performance tab)`);
  else rmSync(profileDir, { recursive: true, force: true });
  return summaries.map(({ busyMs, idleMs, totalMs, topFunctions, byArea }) => ({ totalMs, busyMs, idleMs, byArea, topFunctions }));
}

function cannon(options: autocannon.Options): Promise<autocannon.Result> {
  return new Promise((resolve, reject) => {
    autocannon(options, (error, result) => (error ? reject(error) : resolve(result)));
  });
}

async function benchRead(args: Args, services: PrivateServices | undefined): Promise<void> {
  const profileDir = args.profile ? mkdtempSync(join(tmpdir(), 'bench-prof-read-')) : undefined;
  const env = services?.env ?? {};
  const shop = await shopOn(args, env, profileDir);
  try {
    if (services) {
      const db = checkPool(services.postgresUrl);
      const { rows } = await db.query<{ n: string }>('SELECT count(*) AS n FROM products');
      if (Number(rows[0]!.n) < 20) await createProducts(db, 50, 1000, 12.5, 'read');
      await db.end();
    }
    const token = await shop.token({ user: 'bench-reader' });
    const url = `${shop.api}/products?limit=20`;
    const headers = { authorization: `Bearer ${token}` };
    log(`read: warm-up 3 s`);
    await cannon({ url, headers, connections: args.connections, duration: 3 });
    log(`read: ${args.connections} connections for ${args.duration} s`);
    // CPU per request says more than req/s on a shared box: other load takes cores, not work per request.
    const groups: Record<string, ProcessGroup> = {
      host: { roots: () => (shop.host.child.pid ? [shop.host.child.pid] : []) },
      generator: { roots: () => [process.pid], selfOnly: true },
    };
    const cpuBefore = cpuSnapshot(groups);
    const r = await cannon({ url, headers, connections: args.connections, duration: args.duration });
    const cpu = cpuBetween(cpuBefore, cpuSnapshot(groups));
    const profile = await stopAndProfile(shop, profileDir, args.keepProfile);
    emit(
      {
        bench: 'read',
        date: new Date().toISOString(),
        machine,
        settings: { route: 'GET /api/products?limit=20', host: shop.host.command ?? 'local', connections: args.connections, durationS: args.duration, services: services ? 'private' : 'shared', profiled: args.profile, workerProcesses: args.workers, pgPoolMax: 10 },
        results: {
          reqPerSec: round(r.requests.average),
          latencyP50Ms: r.latency.p50,
          latencyP99Ms: r.latency.p99,
          latencyMaxMs: r.latency.max,
          requests: r.requests.total,
          non2xx: r.non2xx,
          errors: r.errors,
          timeouts: r.timeouts,
          hostCpuMsPerRequest: round((cpu.cpuSeconds.host! * 1000) / r.requests.total, 3),
          generatorCpuMsPerRequest: round((cpu.cpuSeconds.generator! * 1000) / r.requests.total, 3),
          hostCoresBusy: round(cpu.cpuSeconds.host! / cpu.seconds, 2),
          otherCoresBusy: round(cpu.otherCoresBusy, 2),
          targetMet: r.requests.average >= 3300 && r.latency.p99 <= 50 && r.non2xx === 0 && r.errors === 0,
        },
        ...(profile ? { profile } : {}),
      },
      args,
    );
  } finally {
    if (shop.host.child.exitCode === null) await shop.stop();
  }
}

async function benchCheckout(args: Args, services: PrivateServices): Promise<void> {
  const profileDir = args.profile ? mkdtempSync(join(tmpdir(), 'bench-prof-checkout-')) : undefined;
  const shop = await shopOn(args, services.env, profileDir);
  const db = checkPool(services.postgresUrl);
  try {
    const productCount = 20;
    const products = await createProducts(db, productCount, Math.ceil((args.n + 200) / productCount) + 10, 19.9, 'checkout');
    const mint = async (count: number, prefix: string): Promise<LoadUser[]> => {
      const run = Date.now().toString(36);
      return Promise.all(
        Array.from({ length: count }, async (_, i) => {
          const name = `${prefix}-${run}-${i}`;
          return { name, token: await shop.token({ user: name }), productId: products[i % productCount]! };
        }),
      );
    };
    log('checkout: warm-up 100 users');
    await runCheckoutLoad({ api: () => shop.api, users: await mint(100, 'warm'), concurrency: args.c });
    const users = await mint(args.n, 'bench');
    log(`checkout: ${args.n} users, concurrency ${args.c}`);
    const started = Date.now();
    const { records, wallMs } = await runCheckoutLoad({ api: () => shop.api, users, concurrency: args.c });
    const accepted = records.filter((r) => r.status === 202);
    const orderIds = accepted.map((r) => r.orderId!);
    const { pending } = await waitForFinal(db, orderIds, 120_000);
    const allFinalMs = Date.now() - started;
    const timings = await orderTimings(db, orderIds);
    const checkoutMs = records.filter((r) => r.status !== undefined).map((r) => r.ms);
    const addMs = records.map((r) => r.addMs);
    const profile = await stopAndProfile(shop, profileDir, args.keepProfile);
    const httpP99 = percentile(checkoutMs, 99);
    const ordersPerSec = timings.final / (timings.spanMs / 1000);
    emit(
      {
        bench: 'checkout',
        date: new Date().toISOString(),
        machine,
        settings: { n: args.n, concurrency: args.c, itemsPerUser: 1, products: productCount, services: 'private', profiled: args.profile, workerProcesses: args.workers, prefetch: readHostOptions(projectRoot).prefetchCount, pgPoolMax: 10, idempotencyKey: true },
        results: {
          checkouts: records.length,
          accepted: accepted.length,
          acceptRate: round(accepted.length / records.length, 4),
          httpStatuses: countBy(records.map((r) => String(r.status ?? `add:${r.addStatus}`))),
          httpPhaseS: round(wallMs / 1000, 2),
          checkoutsPerSecHttp: round(records.length / (wallMs / 1000)),
          checkoutP50Ms: round(percentile(checkoutMs, 50)),
          checkoutP99Ms: round(httpP99),
          addItemP50Ms: round(percentile(addMs, 50)),
          addItemP99Ms: round(percentile(addMs, 99)),
          ordersFinal: timings.final,
          ordersPaid: timings.paid,
          notFinalAfterWait: pending,
          allFinalAfterS: round(allFinalMs / 1000, 2),
          ordersPerSec: round(ordersPerSec),
          checkoutToPaidP50Ms: round(percentile(timings.toPaid, 50)),
          checkoutToPaidP99Ms: round(percentile(timings.toPaid, 99)),
          targetMet: ordersPerSec >= 700 && httpP99 <= 150 && timings.paid === args.n,
        },
        ...(profile ? { profile } : {}),
      },
      args,
    );
  } finally {
    await db.end();
    if (shop.host.child.exitCode === null) await shop.stop();
  }
}

function countBy(values: string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const v of values) out[v] = (out[v] ?? 0) + 1;
  return out;
}

/** A JWKS endpoint in front of the dev issuer's keys that counts the fetches. */
async function countingJwks(upstream: string): Promise<{ url: string; fetches: () => number; server: Server }> {
  const body = await (await fetch(upstream)).text();
  let count = 0;
  const server = createServer((req, res) => {
    count++;
    res.writeHead(200, { 'content-type': 'application/json' }).end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  return { url: `http://127.0.0.1:${port}/keys`, fetches: () => count, server };
}

async function benchJwks(args: Args, services: PrivateServices | undefined): Promise<void> {
  const durationS = 10;
  // The issuer is started by startShop; a first shop gives us its JWKS, then the measured shop uses the counter.
  const probe = await startShop({ env: services?.env ?? {} });
  const jwks = await countingJwks(probe.issuer.jwksUri);
  const template = decodeJwt(await probe.token({ user: 'jwks-bench' }));
  const issuerForShop = probe.issuer;
  await probe.host.stop();
  const { startHostProcess } = await import('../test/support/hostProcess.js');
  const { devIssuerSettings } = await import('../src/dev-issuer/index.js');
  const host = await startHostProcess({
    appRoot: projectRoot,
    env: {
      // Without private services, the shared ones (POSTGRES_URL already routed through PgBouncer by main()).
      REDIS_URL: 'redis://127.0.0.1:6379',
      RABBITMQ_URL: 'amqp://guest:guest@127.0.0.1:5672',
      ...services?.env,
      ...devIssuerSettings({ issuer: issuerForShop.issuer, jwksUri: jwks.url }),
    },
  });
  try {
    const url = `${host.baseUrl}/api/products?limit=1`;
    // A valid token first, so the key set is loaded as in steady state.
    const valid = await issuerForShop.mintUserToken({ user: 'jwks-bench' });
    const first = await fetch(url, { headers: { authorization: `Bearer ${valid}` } });
    const fetchesBefore = jwks.fetches();
    // Tokens signed by keys the issuer does not publish, under 5 unknown kids.
    const tokens = await Promise.all(
      Array.from({ length: 5 }, async (_, i) => {
        const { privateKey, publicKey } = await generateKeyPair('RS256');
        void (await exportJWK(publicKey));
        const now = Math.floor(Date.now() / 1000);
        return new SignJWT({ ...template, iat: now, nbf: now, exp: now + 3600 }).setProtectedHeader({ alg: 'RS256', typ: 'JWT', kid: `unknown-kid-${i}` }).sign(privateKey);
      }),
    );
    let i = 0;
    log(`jwks: unknown-kid tokens for ${durationS} s at 16 connections`);
    const r = await cannon({
      url,
      connections: 16,
      duration: durationS,
      requests: [{ setupRequest: (req) => ({ ...req, headers: { ...req.headers, authorization: `Bearer ${tokens[i++ % tokens.length]}` } }) }],
    });
    const during = jwks.fetches() - fetchesBefore;
    const cooldownS = 30;
    emit(
      {
        bench: 'jwks',
        date: new Date().toISOString(),
        machine,
        settings: { durationS, connections: 16, unknownKids: tokens.length, cooldownS, services: services ? 'private' : 'shared' },
        results: {
          firstValidStatus: first.status,
          fetchesForFirstToken: fetchesBefore,
          requests: r.requests.total,
          reqPerSec: round(r.requests.average),
          status401: r['4xx'],
          other: r.non2xx - r['4xx'],
          errors: r.errors,
          jwksFetchesDuringRun: during,
          allowedFetches: Math.ceil(durationS / cooldownS),
          targetMet: during <= Math.ceil(durationS / cooldownS) && r['2xx'] === 0,
        },
      },
      args,
    );
  } finally {
    await host.stop();
    await issuerForShop.close();
    jwks.server.close();
  }
}

async function benchCatalog(args: Args, services: PrivateServices): Promise<void> {
  // The host applies the migrations at start; the catalog is seeded after.
  const shop = await shopOn(args, services.env, undefined);
  const db = checkPool(services.postgresUrl);
  try {
    const seedStarted = performance.now();
    await seedCatalog(db, args.catalogProducts, log);
    const seedS = round((performance.now() - seedStarted) / 1000);
    const token = await shop.token({ user: 'bench-catalog' });
    log('catalog: warm-up');
    await timeRepository(db, 20);
    await timeHttp(shop, token, 20, 4);
    log(`catalog: ${args.n} queries of each kind, SQL alone`);
    const sql = await timeRepository(db, args.n);
    log(`catalog: ${args.n} requests of each kind through the host, ${args.c} at a time`);
    const http = await timeHttp(shop, token, args.n, args.c);
    emit(
      {
        bench: 'catalog',
        date: new Date().toISOString(),
        machine,
        settings: {
          products: args.catalogProducts,
          categories: 20,
          queries: Object.fromEntries(catalogScenarios.map((s) => [s.name, [s.query(0), s.query(1)]])),
          sqlSequential: true,
          httpConcurrency: args.c,
          perKind: args.n,
          workerProcesses: args.workers,
          seedSeconds: seedS,
        },
        results: { sql, http, plans: await plans(db) },
      },
      args,
    );
  } finally {
    await db.end();
    await shop.stop();
  }
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  routeThroughLocalPgBouncer(process.env);
  const needPrivate = args.cmd !== 'read' || !args.shared;
  let services: PrivateServices | undefined;
  const cleanup = async () => {
    await services?.close().catch(() => undefined);
  };
  process.once('SIGINT', () => void cleanup().then(() => process.exit(130)));
  try {
    if (needPrivate) {
      log('starting private Postgres, Redis and RabbitMQ');
      // The capacity bench reads pg_stat_statements, which must be preloaded at server start; the
      // other benches run without it, as their earlier results did.
      const statementStats = { shared_preload_libraries: 'pg_stat_statements', 'pg_stat_statements.track_utility': 'on' };
      services = await startPrivateServices('bench', args.cmd === 'capacity' || args.cmd === 'seed-capacity' ? { postgresSettings: statementStats } : {});
    }
    const readServices = args.shared ? undefined : services;
    if (args.cmd === 'read' || args.cmd === 'all') await benchRead(args, readServices);
    if (args.cmd === 'checkout' || args.cmd === 'all') await benchCheckout(args, services!);
    if (args.cmd === 'jwks' || args.cmd === 'all') await benchJwks(args, services);
    if (args.cmd === 'catalog') await benchCatalog(args, services!);
    if (args.cmd === 'seed-capacity') await benchSeedCapacity({ options: args.capacity, services: services!, emit: (line) => emit({ ...line, machine }, args), log });
    if (args.cmd === 'capacity') {
      const profileDir = args.profile ? mkdtempSync(join(tmpdir(), 'bench-prof-capacity-')) : undefined;
      await benchCapacity({
        options: args.capacity,
        services: services!,
        workers: args.workers,
        prefetch: readHostOptions(projectRoot).prefetchCount,
        startShop: (env) => shopOn(args, { ...services!.env, ...env }, profileDir),
        emit: async (line) => {
          const profile = profileDir ? await profileOf(profileDir, args.keepProfile) : undefined;
          emit({ ...line, machine, ...(profile ? { profile } : {}) }, args);
        },
        log,
      });
    }
  } finally {
    await cleanup();
  }
}

// Exit explicitly: a keep-alive socket (autocannon, the host's JWKS fetches) must not keep the bench alive.
main().then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(`${(error as Error).stack ?? String(error)}\n`);
    process.exit(1);
  },
);
