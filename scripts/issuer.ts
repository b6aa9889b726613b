/*
 * npm run issuer: runs the local development issuer alone, on the ports of the ENTRA_* settings
 * (npm run dev and npm start start it by themselves), e.g. beside a host started some other way.
 */
import { startDevIssuerFromSettings } from './devIssuerFromSettings.js';
import { loadLocalSettings } from './localSettings.js';

loadLocalSettings();
const issuer = await startDevIssuerFromSettings('issuer');
console.log(`Development issuer: ${issuer.issuer}\nJWKS: ${issuer.jwksUri}\nTokens: npm run token -- --user alice [--roles Products.Write]`);
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => void issuer.close().then(() => process.exit(0)));
