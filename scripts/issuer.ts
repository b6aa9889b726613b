/*
 * npm run issuer: runs the local development issuer alone, for `func start` users who keep the
 * dev ENTRA_* settings of local.settings.sample.json (npm run dev starts it by itself).
 */
import { join } from 'node:path';
import { startDevIssuer } from '../src/dev-issuer/index.js';
import { projectRoot } from './localSettings.js';

const issuer = await startDevIssuer({ dir: join(projectRoot, '.local/dev-issuer') });
console.log(`Development issuer: ${issuer.issuer}\nJWKS: ${issuer.jwksUri}\nTokens: npm run token -- --user alice [--roles Products.Write]`);
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => void issuer.close().then(() => process.exit(0)));
