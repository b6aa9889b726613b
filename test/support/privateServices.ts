import { spawn, spawnSync, execFile, type ChildProcess } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import amqp from 'amqplib';
import pg from 'pg';
import { migrateUp } from '../../src/adapters/postgres/migrate.js';
import { declareTopology } from '../../src/adapters/rabbitmq/topology.js';

/*
 * Private Postgres (behind its own PgBouncer, as in Azure), Redis and RabbitMQ instances owned by one
 * test run or benchmark, on free ports
 * and in temp dirs, so the fault suite can stop and start them without touching the shared servers
 * on 5432/6379/5672. Runs as root (the dev machine's setup): Postgres as the `postgres` OS user,
 * Redis and a second RabbitMQ node as root children with their own HOME, cookie and data dirs.
 */

const run = promisify(execFile);
const pgBin = (() => {
  const base = '/usr/lib/postgresql';
  const version = existsSync(base) ? readdirSync(base).sort((a, b) => Number(b) - Number(a))[0] : undefined;
  return version ? join(base, version, 'bin') : '';
})();
const rabbitSbin = (() => {
  const base = '/usr/lib/rabbitmq/lib';
  const dir = existsSync(base) ? readdirSync(base).find((d) => d.startsWith('rabbitmq_server-')) : undefined;
  return dir ? join(base, dir, 'sbin') : '';
})();

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/** A free TCP port in [low, high) (random start, so parallel runs rarely collide). */
export async function freePort(low = 20_000, high = 40_000): Promise<number> {
  const avoid = new Set([5432, 6379, 5672, 7071, 7443, 7444, 15672, 25672, 4369]);
  for (let i = 0; i < 200; i++) {
    const port = low + Math.floor(Math.random() * (high - low));
    if (avoid.has(port)) continue;
    if ((await portIsFree(port)) && (await portIsFree(port + 20_000).catch(() => false))) return port;
  }
  throw new Error('no free port found');
}

export function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = new Socket();
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(500, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
    socket.connect(port, '127.0.0.1');
  });
}

async function waitFor(what: string, check: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check().catch(() => false)) return;
    await sleep(200);
  }
  throw new Error(`${what} not ready after ${timeoutMs} ms`);
}

export interface ServiceControl {
  /** Stops the server (clean shutdown unless `kill`); resolves when its port is closed. */
  stop(): Promise<void>;
  /** Starts it again on the same port and data; resolves when it accepts connections. */
  start(): Promise<void>;
}

export interface PrivateServices {
  dir: string;
  /** Postgres itself (the session connection: LISTEN, migrations, the tests' own checks). */
  postgresUrl: string;
  /** The PgBouncer in front of it (transaction pooling), which the app's pool uses. */
  pgbouncerUrl: string;
  redisUrl: string;
  rabbitUrl: string;
  ports: { postgres: number; pgbouncer: number; redis: number; rabbit: number };
  rabbitNode: string;
  postgres: ServiceControl;
  redis: ServiceControl;
  rabbit: ServiceControl & {
    /** `rabbitmqctl list_queues`: ready, unacked and consumers per queue. */
    queues(): Promise<Record<string, { ready: number; unacked: number; consumers: number }>>;
    /** Runs `rabbitmqctl` against this node (e.g. to raise a memory alarm). */
    ctl(args: string[]): Promise<unknown>;
  };
  /** The env a shop under test needs to use these instances. */
  env: Record<string, string>;
  close(): Promise<void>;
}

// ---------- Postgres ----------

function asPostgres(command: string): Promise<{ stdout: string; stderr: string }> {
  return run('runuser', ['-u', 'postgres', '--', 'sh', '-c', command], { maxBuffer: 10 * 1024 * 1024 });
}

async function startPostgres(dir: string, port: number, settings: Readonly<Record<string, string>>): Promise<ServiceControl> {
  const data = join(dir, 'pgdata');
  const sock = join(dir, 'pgsock');
  mkdirSync(sock, { recursive: true });
  for (const d of [dir, sock]) chownSync(d, uidOf('postgres'), gidOf('postgres'));
  await asPostgres(`${pgBin}/initdb -D '${data}' -U postgres -A trust -E UTF8 --no-sync >'${dir}/initdb.log' 2>&1`);
  const extra = Object.entries(settings).map(([name, value]) => ` -c ${name}=${value}`).join('');
  const opts = `-p ${port} -k ${sock} -c listen_addresses=127.0.0.1 -c max_connections=200 -c shared_buffers=256MB${extra}`;
  const control: ServiceControl = {
    async start() {
      await asPostgres(`${pgBin}/pg_ctl -D '${data}' -l '${dir}/postgres.log' -o '${opts}' -w -t 60 start >/dev/null`);
      await waitFor('postgres', () => listening(port), 30_000);
    },
    async stop() {
      await asPostgres(`${pgBin}/pg_ctl -D '${data}' -m fast -w -t 60 stop >/dev/null`);
    },
  };
  await control.start();
  await asPostgres(`${pgBin}/psql -h 127.0.0.1 -p ${port} -U postgres -qAt -c "CREATE DATABASE ecommerce"`);
  return control;
}

function uidOf(user: string): number {
  return Number(spawnSync('id', ['-u', user]).stdout.toString().trim());
}
function gidOf(user: string): number {
  return Number(spawnSync('id', ['-g', user]).stdout.toString().trim());
}

// ---------- Redis ----------

function startRedis(dir: string, port: number): ServiceControl & { child(): ChildProcess | undefined } {
  const data = join(dir, 'redis');
  mkdirSync(data, { recursive: true });
  let child: ChildProcess | undefined;
  return {
    child: () => child,
    async start() {
      child = spawn(
        'redis-server',
        ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'yes', '--dir', data, '--daemonize', 'no', '--logfile', join(dir, 'redis.log')],
        { stdio: 'ignore' },
      );
      await waitFor('redis', () => listening(port), 15_000);
    },
    async stop() {
      const current = child;
      child = undefined;
      if (!current || current.exitCode !== null) return;
      const exited = new Promise((resolve) => current.once('exit', resolve));
      current.kill('SIGTERM');
      await exited;
    },
  };
}

// ---------- RabbitMQ ----------

function startRabbit(dir: string, port: number, node: string) {
  const base = join(dir, 'rabbit');
  mkdirSync(base, { recursive: true });
  const plugins = join(base, 'enabled_plugins');
  writeFileSync(plugins, '[].\n');
  const config = join(base, 'rabbitmq.conf');
  writeFileSync(
    config,
    [
      `listeners.tcp.1 = 127.0.0.1:${port}`,
      'loopback_users.guest = true',
      // This box has lots of RAM; never block publishers on the default memory/disk alarms in a test.
      'vm_memory_high_watermark.relative = 0.8',
      'disk_free_limit.absolute = 50MB',
    ].join('\n') + '\n',
  );
  const home = join(base, 'home');
  mkdirSync(home, { recursive: true });
  writeFileSync(join(home, '.erlang.cookie'), `FAULTSCOOKIE${process.pid}${port}`);
  chmodSync(join(home, '.erlang.cookie'), 0o400);
  const env = {
    ...process.env,
    HOME: home,
    RABBITMQ_NODENAME: node,
    RABBITMQ_NODE_PORT: String(port),
    RABBITMQ_DIST_PORT: String(port + 20_000),
    RABBITMQ_MNESIA_BASE: join(base, 'mnesia'),
    RABBITMQ_LOG_BASE: join(base, 'log'),
    RABBITMQ_ENABLED_PLUGINS_FILE: plugins,
    RABBITMQ_CONFIG_FILE: config.replace(/\.conf$/, ''),
    RABBITMQ_CONF_ENV_FILE: join(base, 'no-env.conf'),
    RABBITMQ_PID_FILE: join(base, 'rabbit.pid'),
  };
  let child: ChildProcess | undefined;
  const ctl = (args: string[], timeoutMs = 60_000) =>
    run(join(rabbitSbin, 'rabbitmqctl'), ['-n', node, ...args], { env, timeout: timeoutMs, maxBuffer: 10 * 1024 * 1024 });
  const nodeName = node.split('@')[0];
  /** Until the VM has left epmd and closed its distribution port, a new VM of the same name cannot boot. */
  const nodeGone = () =>
    waitFor(
      `rabbitmq node ${node} gone`,
      async () => {
        const { stdout } = await run('epmd', ['-names']);
        return !new RegExp(`^name ${nodeName} at port`, 'm').test(stdout) && !(await listening(Number(env.RABBITMQ_DIST_PORT)));
      },
      30_000,
    );
  const killVm = () => {
    try {
      process.kill(Number(readFileSync(env.RABBITMQ_PID_FILE, 'utf8').trim()), 'SIGKILL');
    } catch {
      // no pid file yet, or the VM is gone
    }
  };
  /** True once the node answers; false if its server exited first (a failed boot). */
  const booted = async (server: ChildProcess, deadline: number): Promise<boolean> => {
    for (;;) {
      if (server.exitCode !== null) return false;
      try {
        await ctl(['await_startup', '--timeout', '10'], 15_000);
        return true;
      } catch (error) {
        if (Date.now() > deadline) throw error;
        await sleep(500);
      }
    }
  };
  const logTail = () => {
    try {
      return readFileSync(join(env.RABBITMQ_LOG_BASE, `${node}.log`), 'utf8').split('\n').slice(-30).join('\n');
    } catch (error) {
      return `(no log: ${String(error)})`;
    }
  };
  return {
    child: () => child,
    ctl,
    async start() {
      // The server script waits on its Erlang VM and exits 0 whatever the VM's status. A VM that exits during boot
      // (seen once in CI right after a restart, its log gone with the temp dir) is started again until the deadline;
      // the last error carries the log's tail.
      const deadline = Date.now() + 90_000;
      for (let attempt = 1; ; attempt++) {
        child = spawn(join(rabbitSbin, 'rabbitmq-server'), [], { env, stdio: 'ignore', cwd: base });
        if (await booted(child, deadline)) break;
        if (Date.now() > deadline) throw new Error(`rabbitmq-server exited during boot ${attempt} times; the log ends:\n${logTail()}`);
        await nodeGone();
      }
      await waitFor('rabbitmq', () => listening(port), 30_000);
    },
    async stop() {
      const current = child;
      child = undefined;
      if (!current || current.exitCode !== null) return;
      const exited = new Promise((resolve) => current.once('exit', resolve));
      await ctl(['stop'], 60_000).catch(() => current.kill('SIGTERM'));
      await Promise.race([exited, sleep(30_000)]);
      if (current.exitCode === null) {
        // The script does not pass SIGKILL on: kill its VM too.
        killVm();
        current.kill('SIGKILL');
        await exited;
      }
      await waitFor('rabbitmq port closed', async () => !(await listening(port)), 15_000);
      await nodeGone();
    },
    async queues() {
      const { stdout } = await ctl(['list_queues', '-q', '--no-table-headers', 'name', 'messages_ready', 'messages_unacknowledged', 'consumers']);
      const result: Record<string, { ready: number; unacked: number; consumers: number }> = {};
      for (const line of stdout.split('\n')) {
        const [name, ready, unacked, consumers] = line.trim().split(/\s+/);
        if (name && ready !== undefined) result[name] = { ready: Number(ready), unacked: Number(unacked), consumers: Number(consumers) };
      }
      return result;
    },
  };
}

// ---------- PgBouncer ----------

/** A PgBouncer configured as scripts/services.sh configures the local stack's, in front of a private Postgres. */
async function startPgBouncer(dir: string, port: number, postgresPort: number): Promise<{ stop(): Promise<void>; kill(): void }> {
  const script = fileURLToPath(new URL('../../scripts/pgbouncer.sh', import.meta.url));
  await run('bash', [script, dir, String(port), '127.0.0.1', String(postgresPort)]);
  await waitFor('pgbouncer', () => listening(port), 15_000);
  // The daemon may listen before it has written its pid file (seen once under load).
  const pidFile = join(dir, 'pgbouncer.pid');
  await waitFor('pgbouncer pid file', async () => existsSync(pidFile) && Number(readFileSync(pidFile, 'utf8')) > 0, 15_000);
  const pid = Number(readFileSync(pidFile, 'utf8'));
  const signal = (name: NodeJS.Signals) => {
    try {
      process.kill(pid, name);
    } catch {
      // already gone
    }
  };
  return {
    async stop() {
      signal('SIGTERM');
      await waitFor('pgbouncer to stop', async () => !(await listening(port)), 15_000);
    },
    kill: () => signal('SIGKILL'),
  };
}

/**
 * Starts private Postgres (with a PgBouncer in front), Redis and RabbitMQ, migrates the database and declares the topology.
 * `close()` stops everything and removes the temp dir; it is also registered for process exit.
 * `postgresSettings` are extra server settings (`-c name=value`), e.g. the bench's
 * `shared_preload_libraries=pg_stat_statements`.
 */
export async function startPrivateServices(label = 'faults', options: { postgresSettings?: Readonly<Record<string, string>> } = {}): Promise<PrivateServices> {
  if (!pgBin || !rabbitSbin) throw new Error('Postgres or RabbitMQ binaries not found under /usr/lib');
  const dir = mkdtempSync(join(tmpdir(), `${label}-svc-`));
  const ports = { postgres: await freePort(), pgbouncer: await freePort(), redis: await freePort(), rabbit: await freePort(20_000, 40_000) };
  const rabbitNode = `${label}-${process.pid}-${ports.rabbit}@localhost`;
  const redis = startRedis(dir, ports.redis);
  const rabbit = startRabbit(dir, ports.rabbit, rabbitNode);
  let postgres: ServiceControl | undefined;
  let pgbouncer: { stop(): Promise<void>; kill(): void } | undefined;
  let closed = false;

  const close = async () => {
    if (closed) return;
    closed = true;
    await Promise.allSettled([pgbouncer?.stop(), postgres?.stop(), redis.stop(), rabbit.stop()]);
    rmSync(dir, { recursive: true, force: true });
  };
  // Last resort if the runner dies without afterAll: kill the children synchronously.
  const onExit = () => {
    if (closed) return;
    redis.child()?.kill('SIGKILL');
    rabbit.child()?.kill('SIGKILL');
    pgbouncer?.kill();
    spawnSync('runuser', ['-u', 'postgres', '--', `${pgBin}/pg_ctl`, '-D', join(dir, 'pgdata'), '-m', 'immediate', 'stop'], { stdio: 'ignore' });
    rmSync(dir, { recursive: true, force: true });
  };
  process.once('exit', onExit);

  try {
    const [pgControl] = await Promise.all([startPostgres(dir, ports.postgres, options.postgresSettings ?? {}), redis.start(), rabbit.start()]);
    postgres = pgControl;
    pgbouncer = await startPgBouncer(join(dir, 'pgbouncer'), ports.pgbouncer, ports.postgres);
    const postgresUrl = `postgres://postgres:postgres@127.0.0.1:${ports.postgres}/ecommerce`;
    const pgbouncerUrl = `postgres://postgres:postgres@127.0.0.1:${ports.pgbouncer}/ecommerce`;
    const redisUrl = `redis://127.0.0.1:${ports.redis}`;
    const rabbitUrl = `amqp://guest:guest@127.0.0.1:${ports.rabbit}`;
    await migrateUp(postgresUrl);
    const connection = await amqp.connect(rabbitUrl);
    try {
      await declareTopology(await connection.createChannel());
    } finally {
      await connection.close();
    }
    const pgControlFinal = pgControl;
    return {
      dir,
      ports,
      rabbitNode,
      postgresUrl,
      pgbouncerUrl,
      redisUrl,
      rabbitUrl,
      postgres: pgControlFinal,
      redis: { start: redis.start, stop: redis.stop },
      rabbit: { start: rabbit.start, stop: rabbit.stop, queues: rabbit.queues, ctl: rabbit.ctl },
      env: { POSTGRES_URL: pgbouncerUrl, POSTGRES_DIRECT_URL: postgresUrl, REDIS_URL: redisUrl, RABBITMQ_URL: rabbitUrl },
      async close() {
        process.removeListener('exit', onExit);
        await close();
      },
    };
  } catch (error) {
    await close();
    process.removeListener('exit', onExit);
    throw error;
  }
}

/** A pg pool on a private instance, for the checks (short timeouts so an outage does not hang a test). */
export function checkPool(url: string): pg.Pool {
  const pool = new pg.Pool({ connectionString: url, max: 4, connectionTimeoutMillis: 3_000 });
  pool.on('error', () => undefined);
  return pool;
}
