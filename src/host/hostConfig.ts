import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';

/** The parts of host.json the local host honours, with the real host's defaults. */
export interface HostOptions {
  routePrefix: string;
  /** RabbitMQ extension: unacknowledged messages per consumer. */
  prefetchCount: number;
  /** Longest time one invocation may run (host.json `functionTimeout`). */
  functionTimeoutMs: number;
  /** How long stopping waits for in-flight invocations (the host's ProcessShutdownTimeout, 10 s). */
  shutdownDrainMs: number;
  /**
   * Largest request body the host reads: a little above the app's largest limit (5 MiB, an image
   * upload; JSON bodies 1 MiB), so the app still answers its 413 up to there, and the host never holds a larger body in memory (the real host's
   * default, FUNCTIONS_REQUEST_BODY_SIZE_LIMIT, is about 100 MB).
   */
  maxRequestBodyBytes: number;
  /** How RabbitMQ message properties reach functions (environment `LOCAL_HOST_RABBITMQ_PROPERTIES`, not host.json). */
  rabbitMqProperties: RabbitMqPropertiesDelivery;
}

/**
 * `json`: BasicProperties serialized as the host does when it can. `opaque`: as the host falls back
 * to `ToString()` when it cannot, so a Node function gets the .NET type name instead
 * (azure-functions-rabbitmq-extension#119); for testing that the app does not need them.
 */
export type RabbitMqPropertiesDelivery = 'json' | 'opaque';

function rabbitMqPropertiesDelivery(env: NodeJS.ProcessEnv): RabbitMqPropertiesDelivery {
  const value = env.LOCAL_HOST_RABBITMQ_PROPERTIES || 'json';
  if (value !== 'json' && value !== 'opaque') throw new Error(`Setting LOCAL_HOST_RABBITMQ_PROPERTIES must be "json" or "opaque", not "${value}"`);
  return value;
}

function parseTimeSpan(value: string, setting: string): number {
  const match = /^(?:(\d+)\.)?(\d{1,2}):(\d{2}):(\d{2})(?:\.(\d+))?$/.exec(value);
  if (!match) throw new Error(`host.json: ${setting} "${value}" is not a time span like 00:05:00`);
  const [, days = '0', hours, minutes, seconds] = match;
  return (((Number(days) * 24 + Number(hours)) * 60 + Number(minutes)) * 60 + Number(seconds)) * 1000;
}

function readJson(path: string): Record<string, unknown> {
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
  } catch (error) {
    throw new Error(`${path} is not valid JSON: ${(error as Error).message}`);
  }
}

export function readHostOptions(appRoot: string, env: NodeJS.ProcessEnv = process.env): HostOptions {
  const path = join(appRoot, 'host.json');
  if (!existsSync(path)) throw new Error(`No host.json in ${appRoot}: is this a Functions app?`);
  const hostJson = readJson(path) as {
    version?: string;
    functionTimeout?: string;
    extensions?: { http?: { routePrefix?: string }; rabbitMQ?: { prefetchCount?: number } };
  };
  if (hostJson.version !== '2.0') throw new Error('host.json: "version" must be "2.0"');
  const prefetchCount = hostJson.extensions?.rabbitMQ?.prefetchCount ?? 30;
  if (!Number.isInteger(prefetchCount) || prefetchCount < 1) throw new Error('host.json: extensions.rabbitMQ.prefetchCount must be a positive integer');
  return {
    routePrefix: (hostJson.extensions?.http?.routePrefix ?? 'api').replace(/^\/+|\/+$/g, ''),
    prefetchCount,
    functionTimeoutMs: hostJson.functionTimeout ? parseTimeSpan(hostJson.functionTimeout, 'functionTimeout') : 30 * 60_000,
    shutdownDrainMs: 10_000,
    maxRequestBodyBytes: 5 * 1024 * 1024 + 64 * 1024,
    rabbitMqProperties: rabbitMqPropertiesDelivery(env),
  };
}

/**
 * Copies `Values` from local.settings.json into the environment, as `func start` does; a variable
 * already set in the environment wins, so CI and shells can override a file value.
 */
export function applyLocalSettings(appRoot: string, env: NodeJS.ProcessEnv = process.env): string[] {
  const path = join(appRoot, 'local.settings.json');
  if (!existsSync(path)) return [];
  const file = readJson(path) as { IsEncrypted?: boolean; Values?: Record<string, unknown> };
  if (file.IsEncrypted) throw new Error('local.settings.json is encrypted; the local host reads only plain settings');
  const applied: string[] = [];
  for (const [name, value] of Object.entries(file.Values ?? {})) {
    if (env[name] !== undefined) continue;
    env[name] = value === null || value === undefined ? '' : String(value);
    applied.push(name);
  }
  return applied;
}

/** The app's entry modules: package.json `main`, which may be a glob like the worker accepts. */
export function appEntryPoints(appRoot: string): string[] {
  const pkg = readJson(join(appRoot, 'package.json')) as { main?: string };
  if (!pkg.main) throw new Error('package.json has no "main": the host cannot find the app');
  const main = join(appRoot, pkg.main);
  const pattern = basename(main);
  if (!pattern.includes('*')) return [main];
  // The worker accepts a glob in `main`; the common form is a wildcard in the file name.
  const matcher = new RegExp(`^${pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '[^/]*')}$`);
  const dir = dirname(main);
  return readdirSync(dir)
    .filter((file) => matcher.test(file))
    .sort()
    .map((file) => join(dir, file));
}
