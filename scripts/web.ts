/*
 * npm run web: the storefront alone, for `func start` users (npm run dev starts it by itself). It
 * forwards /api to the Functions host on PORT (default 7071) and signs in with the dev issuer
 * (npm run issuer) or, with real ENTRA_* settings and STOREFRONT_CLIENT_ID, with Entra.
 */
import { join } from 'node:path';
import { loadLocalSettings, projectRoot } from './localSettings.js';
import { configFromEnvironment, DEFAULT_STOREFRONT_PORT, startStorefront } from './storefront.js';

loadLocalSettings();
const storefront = await startStorefront({
  distDir: join(projectRoot, 'web/dist'),
  apiOrigin: `http://127.0.0.1:${process.env.PORT ?? 7071}`,
  config: configFromEnvironment(),
  port: Number(process.env.STOREFRONT_PORT ?? DEFAULT_STOREFRONT_PORT),
});
console.log(`Storefront: ${storefront.url} (API forwarded to port ${process.env.PORT ?? 7071})`);
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => void storefront.close().then(() => process.exit(0)));
