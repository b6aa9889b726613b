/*
 * Which Functions host serves the app. By default the project's local host (`src/host/`); with the
 * setting FUNCTIONS_HOST_COMMAND, the command it names: `func start` (Core Tools) or the path of a
 * launcher that takes `<app-root> [--port N]`, as the real host's `func-host` does. `npm run dev` and
 * the test harness (test/support/hostProcess.ts) both start the host through here.
 */
import { spawn, type ChildProcess, type StdioOptions } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { ConfigError, parseSettings } from '../src/config.js';

export const HOST_COMMAND_SETTING = 'FUNCTIONS_HOST_COMMAND';

const projectRoot = join(import.meta.dirname, '..');

/*
 * A missing or malformed setting stops the app's start-up with one line naming it (src/config.ts). The
 * local host then exits; the real host does not: the worker fails to load the entry point ("Worker was
 * unable to load entry point ... Setting ENTRA_CLIENT_ID is invalid", a stack trace line by line),
 * and the host runs on with no functions ("0 functions loaded"), so `npm run dev` would serve 404s.
 * `npm run dev` and `npm start` check the settings first and stop with that line, under any host.
 */
export function settingsProblem(env: NodeJS.ProcessEnv): string | undefined {
  try {
    parseSettings(env);
    return undefined;
  } catch (error) {
    if (error instanceof ConfigError) return error.message;
    throw error;
  }
}

/** The host command from the environment (or local.settings.json, once loaded), or undefined for the local host. */
export function hostCommand(env: NodeJS.ProcessEnv = process.env): string | undefined {
  return env[HOST_COMMAND_SETTING]?.trim() || undefined;
}

/*
 * What the real host needs that the local host does without: the worker runtime, and storage for
 * timer and host locks (Azurite). local.settings.sample.json's values, used when neither the
 * environment nor local.settings.json sets them.
 */
const realHostDefaults: Record<string, string> = {
  FUNCTIONS_WORKER_RUNTIME: 'node',
  AzureWebJobsStorage: 'UseDevelopmentStorage=true',
};

const quote = (word: string) => `'${word.replaceAll("'", `'\\''`)}'`;

/**
 * The bash line that runs the command: in the app root, with `--port N`; a command other than Core
 * Tools' `... start` (which serves the current folder) is given the app root as its first argument.
 * `exec` makes the host the process we signal, not a shell in front of it.
 */
export function hostCommandLine(command: string, appRoot: string, port: number): string {
  const servesCurrentFolder = /(^|\s)start$/.test(command);
  return `exec ${command}${servesCurrentFolder ? '' : ` ${quote(appRoot)}`} --port ${port}`;
}

export interface HostSpawnOptions {
  appRoot: string;
  /** The port to serve on; 0 lets the local host pick one (a host command is given a free one). */
  port: number;
  env: NodeJS.ProcessEnv;
  stdio: StdioOptions;
  /** Its own process group, so a stop can end the host's worker processes too. */
  detached?: boolean;
  /** Node flags for the local host (e.g. `--cpu-prof`); a host command starts its workers itself. */
  nodeArgs?: string[];
}

export interface SpawnedHost {
  child: ChildProcess;
  /** The host command, or undefined for the local host. */
  command: string | undefined;
  /** The port a host command was given (the local host prints its own). */
  port: number;
}

/** Starts the local host, or the host command when FUNCTIONS_HOST_COMMAND is set in `env`. */
export async function spawnFunctionsHost(options: HostSpawnOptions): Promise<SpawnedHost> {
  const command = hostCommand(options.env);
  if (!command) {
    const child = spawn(process.execPath, [...(options.nodeArgs ?? []), join(projectRoot, 'dist/src/host/main.js'), '--app-root', options.appRoot, '--port', String(options.port)], {
      env: options.env,
      stdio: options.stdio,
      detached: options.detached,
    });
    return { child, command, port: options.port };
  }
  if (options.nodeArgs?.length) throw new Error(`${HOST_COMMAND_SETTING} starts its own worker processes: node flags (${options.nodeArgs.join(' ')}) need the local host`);
  const port = options.port || (await freePort());
  const env: NodeJS.ProcessEnv = { ...options.env };
  for (const [name, value] of Object.entries(realHostDefaults)) if (!env[name]) env[name] = value;
  // The app exports OTLP over HTTP; the host's own exporter (OpenTelemetry .NET) defaults to gRPC on the same endpoint.
  if (env.OTEL_EXPORTER_OTLP_ENDPOINT && !env.OTEL_EXPORTER_OTLP_PROTOCOL) env.OTEL_EXPORTER_OTLP_PROTOCOL = 'http/protobuf';
  // bash, not sh: dash drops variables whose names are not shell names, such as AzureWebJobs.<fn>.Disabled.
  const child = spawn('bash', ['-c', hostCommandLine(command, options.appRoot, port)], {
    cwd: options.appRoot,
    env,
    stdio: options.stdio,
    detached: options.detached,
  });
  return { child, command, port };
}

/** A port nothing listens on now (the host command binds it a moment later). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/** A host id of its own, so timer and host locks in the shared storage are not another host's. */
export const uniqueHostId = () => `shop-${randomUUID().slice(0, 23)}`;

/*
 * The real host answers `/admin/host/ping` once Kestrel listens, whatever the state of the script
 * host (azure-functions-host 89dc438, src/WebJobs.Script.WebHost/Controllers/HostController.cs,
 * `Ping`); the WebJobs SDK's job host logs `Job host started` (category `Host.Startup`) once the
 * functions and their listeners run. Core Tools, below `--verbose`, prints its `Functions:` list then.
 */
const hostStartedLine = /Job host started|^Functions:\s*$/m;

/** The host process exited before it said its functions run: the platform would start it again. */
export class HostExitedWhileStarting extends Error {
  constructor(output: string) {
    super(`the host exited before starting:\n${output}`);
    this.name = 'HostExitedWhileStarting';
  }
}

/** Resolves once the host command's ping answers and it has said its functions run. */
export async function waitForHostCommand(baseUrl: string, output: () => string, exited: Promise<unknown>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let gone = false;
  void exited.then(() => (gone = true));
  while (Date.now() < deadline) {
    if (gone) throw new HostExitedWhileStarting(output());
    const pinged = await fetch(`${baseUrl}/admin/host/ping`, { signal: AbortSignal.timeout(2_000) }).then(
      (response) => response.ok,
      () => false,
    );
    if (pinged && hostStartedLine.test(output())) return;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error(`the host did not start in ${timeoutMs} ms:\n${output()}`);
}

/*
 * The real host writes each line a worker prints as a console log entry of its own
 * (`info: Host.Function.Console[0]` then the line, indented; the category from
 * src/WebJobs.Script/Workers/WorkerConstants.cs). Unwrapped, the app's lines read as under the
 * local host; the host's own entries stay as they are.
 */
const consoleEntry = /^(?:info|warn|fail|crit|dbug|trce): Host\.Function\.Console\[\d+\]\n((?: {6}.*(?:\n|$))+)/gm;

export function unwrapWorkerConsole(output: string): string {
  return output.replace(consoleEntry, (_, body: string) => body.replace(/^ {6}/gm, ''));
}

/*
 * What the platform does for a Function App whose host breaks, imitated where `npm run dev` and the
 * fault suite run a host command: the real host's RabbitMQ consumer can take the host process down
 * when the broker drops mid-delivery (azure-functions-rabbitmq-extension#159), and a consumer whose
 * channel closed, or whose trigger was disabled because the broker was down at start, never comes
 * back (#230; "failed indexing and will be disabled"). In Azure the platform restarts a host process
 * that exits, and replaces an instance whose health check path (`/api/health`, which answers 503
 * `consumer_missing` then) keeps failing. Locally, this watch asks for a restart in both cases.
 */
export interface HealthWatch {
  stop(): void;
}

export interface HealthWatchOptions {
  /** The host's base URL now (it changes when the host is restarted on another port). */
  baseUrl: () => string;
  /** Restarts the host; the watch waits for it before polling again. */
  restart: (reason: string) => Promise<void>;
  intervalMs?: number;
  /** How long health must keep naming a queue without a consumer, with the broker up, before a restart. */
  unhealthyForMs?: number;
}

export function watchConsumers(options: HealthWatchOptions): HealthWatch {
  const { intervalMs = 5_000, unhealthyForMs = 30_000 } = options;
  let stopped = false;
  let unhealthySince: number | undefined;
  let timer: NodeJS.Timeout | undefined;
  const poll = async () => {
    const health = await fetch(`${options.baseUrl()}/api/health`, { signal: AbortSignal.timeout(intervalMs) })
      .then(async (response) => (response.status === 503 ? ((await response.json()) as { code?: string; detail?: string; checks?: { rabbitmq?: string } }) : undefined))
      .catch(() => undefined);
    // Only a missing consumer with the broker reachable: a broker that is down is not the host's fault.
    const consumerMissing = health?.code === 'consumer_missing' && health.checks?.rabbitmq === 'ok';
    if (!consumerMissing) unhealthySince = undefined;
    else if (unhealthySince === undefined) unhealthySince = Date.now();
    else if (Date.now() - unhealthySince >= unhealthyForMs) {
      unhealthySince = undefined;
      await options.restart(`health answered consumer_missing for ${Math.round(unhealthyForMs / 1000)} s: ${health?.detail ?? ''}`).catch(() => undefined);
    }
    if (!stopped) timer = setTimeout(() => void poll(), intervalMs);
  };
  timer = setTimeout(() => void poll(), intervalMs);
  return {
    stop() {
      stopped = true;
      clearTimeout(timer);
    },
  };
}
