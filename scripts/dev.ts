/*
 * The last step of `npm run dev`: starts the local development issuer when the ENTRA_* settings
 * point at it (the default in local.settings.sample.json), the storefront's server (web/dist, with
 * /api forwarded to the host) and the Functions host with the built app: the local host, or the
 * command in FUNCTIONS_HOST_COMMAND (scripts/functionsHost.ts). Ctrl-C stops them all, letting the
 * host drain in-flight work first.
 */
import { join } from 'node:path';
import { DEV_TENANT_ID, startDevIssuer, type DevIssuer } from '../src/dev-issuer/index.js';
import { spawnFunctionsHost } from './functionsHost.js';
import { routeThroughLocalPgBouncer } from './localPgBouncer.js';
import { loadLocalSettings, projectRoot } from './localSettings.js';
import { configFromEnvironment, DEFAULT_STOREFRONT_PORT, startStorefront } from './storefront.js';

loadLocalSettings();
const routed = routeThroughLocalPgBouncer(process.env);
if (routed.POSTGRES_URL) console.log(`[dev] the app reaches Postgres through PgBouncer at ${new URL(routed.POSTGRES_URL).host} (transaction pooling, as in Azure)`);

let issuer: DevIssuer | undefined;
if (process.env.ENTRA_TENANT_ID === DEV_TENANT_ID) {
  issuer = await startDevIssuer({ dir: join(projectRoot, '.local/dev-issuer') }).catch((error: NodeJS.ErrnoException) => {
    const reason = error.code === 'EADDRINUSE' ? `port ${(error as { port?: number }).port} is in use (is another npm run dev or npm run issuer running?)` : error.message;
    console.error(`[dev] cannot start the development issuer: ${reason}`);
    process.exit(1);
  });
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
const { child: host, command } = await spawnFunctionsHost({ appRoot: projectRoot, port, env: process.env, stdio: 'inherit' });
if (command) console.log(`[dev] serving through ${command} on http://localhost:${port}/api`);
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => host.kill(signal));
host.on('exit', (code) => {
  void Promise.all([issuer?.close(), storefront.close()]).finally(() => process.exit(code ?? 0));
});
