/*
 * The last step of `npm run dev`: starts the local development issuer when the ENTRA_* settings
 * point at it (the default in local.settings.sample.json), the storefront's server (web/dist, with
 * /api forwarded to the host) and the Functions host with the built app: the local host, or the
 * command in FUNCTIONS_HOST_COMMAND (scripts/functionsHost.ts). Ctrl-C stops them all, letting the
 * host drain in-flight work first.
 */
import type { ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import type { DevIssuer } from '../src/dev-issuer/index.js';
import { startDevIssuerFromSettings, usesDevIssuer } from './devIssuerFromSettings.js';
import { settingsProblem, spawnFunctionsHost, watchConsumers } from './functionsHost.js';
import { routeThroughLocalPgBouncer } from './localPgBouncer.js';
import { loadLocalSettings, projectRoot } from './localSettings.js';
import { configFromEnvironment, DEFAULT_STOREFRONT_PORT, startStorefront } from './storefront.js';

loadLocalSettings();
const routed = routeThroughLocalPgBouncer(process.env);
if (routed.POSTGRES_URL) console.log(`[dev] the app reaches Postgres through PgBouncer at ${new URL(routed.POSTGRES_URL).host} (transaction pooling, as in Azure)`);

const badSetting = settingsProblem(process.env);
if (badSetting) {
  console.error(`[dev] Failed to start: ${badSetting}`);
  process.exit(1);
}

let issuer: DevIssuer | undefined;
if (usesDevIssuer()) {
  issuer = await startDevIssuerFromSettings('dev');
  console.log(`[dev] development issuer at ${issuer.authority} (tokens: npm run token -- --user alice)`);
} else {
  console.log(`[dev] using the Entra tenant ${process.env.ENTRA_TENANT_ID ?? '(ENTRA_TENANT_ID is not set)'}`);
}

const storefrontPort = Number(process.env.STOREFRONT_PORT ?? DEFAULT_STOREFRONT_PORT);
const storefront = await startStorefront({
  distDir: join(projectRoot, 'web/dist'),
  apiOrigin: `http://127.0.0.1:${process.env.PORT ?? 7071}`,
  config: configFromEnvironment(),
  port: storefrontPort,
}).catch((error: NodeJS.ErrnoException) => {
  console.error(`[dev] cannot start the storefront: ${error.code === 'EADDRINUSE' ? `port ${storefrontPort} is in use (set STOREFRONT_PORT)` : error.message}`);
  process.exit(1);
});
console.log(`[dev] storefront at ${storefront.url} (sign in as alice, bob or admin)`);
console.log(`[dev] customer emails (SMTP ${process.env.SMTP_URL ?? 'smtp://127.0.0.1:1025'}) at http://127.0.0.1:${process.env.MAILDEV_WEB_PORT ?? 1080}`);

const port = Number(process.env.PORT ?? 7071);
const finish = (code: number | null) => void Promise.all([issuer?.close(), storefront.close()]).finally(() => process.exit(code ?? 0));
let stopping = false;
/** Host processes stopped to be replaced: their exit is not the end of `npm run dev`. */
const replaced = new WeakSet<ChildProcess>();
let host = await serve();
for (const signal of ['SIGINT', 'SIGTERM'] as const)
  process.on(signal, () => {
    stopping = true;
    host.kill(signal);
  });
if (host.command) watchConsumers({ baseUrl: () => `http://127.0.0.1:${port}`, restart: (reason) => restartHost(reason) });

/*
 * The local host ends `npm run dev` when it exits. A host command is restarted as the platform
 * restarts a Function App's host (watchConsumers, scripts/functionsHost.ts): when it exits by itself
 * after serving a while, or health keeps naming a queue without a consumer. One that exits within
 * 30 s of starting (a bad setting, a port in use) ends `npm run dev` instead of looping.
 */
async function serve(): Promise<ChildProcess & { command?: string }> {
  const startedAt = Date.now();
  const { child, command } = await spawnFunctionsHost({ appRoot: projectRoot, port, env: process.env, stdio: 'inherit' });
  if (command) console.log(`[dev] serving through ${command} on http://localhost:${port}/api`);
  child.once('exit', (code, signal) => {
    if (replaced.has(child)) return;
    if (stopping || !command || Date.now() - startedAt < 30_000) return finish(code);
    void restartHost(`the host exited by itself (code ${code}, signal ${signal})`);
  });
  return Object.assign(child, { command });
}

async function restartHost(reason: string): Promise<void> {
  console.error(`[dev] ${reason}; restarting it, as the platform would`);
  const old = host;
  replaced.add(old);
  if (old.exitCode === null && old.signalCode === null) {
    const exited = new Promise((resolve) => old.once('exit', resolve));
    old.kill('SIGTERM');
    await exited; // it holds the port until then
  }
  host = await serve();
}
