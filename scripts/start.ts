/*
 * npm start (after `prestart`: services, Azurite included, build, migrations and topology): serves
 * the built app through the Functions host command, `func start` (Core Tools) unless
 * FUNCTIONS_HOST_COMMAND names another (scripts/functionsHost.ts), on PORT, with the development
 * issuer beside it when the ENTRA_* settings point at it (as `npm run dev` does). No sample catalog,
 * no storefront (`npm run web`). Ctrl-C or SIGTERM stops the host, which stops its worker, then the issuer.
 */
import type { DevIssuer } from '../src/dev-issuer/index.js';
import { startDevIssuerFromSettings, usesDevIssuer } from './devIssuerFromSettings.js';
import { HOST_COMMAND_SETTING, hostCommand, settingsProblem, spawnFunctionsHost } from './functionsHost.js';
import { loadLocalSettings, projectRoot } from './localSettings.js';

loadLocalSettings();
const command = hostCommand() ?? 'func start';
const badSetting = settingsProblem(process.env);
if (badSetting) {
  console.error(`[start] Failed to start: ${badSetting}`);
  process.exit(1);
}
let issuer: DevIssuer | undefined;
if (usesDevIssuer()) {
  issuer = await startDevIssuerFromSettings('start');
  console.log(`[start] development issuer at ${issuer.authority} (tokens: npm run token -- --user alice)`);
}

const port = Number(process.env.PORT ?? 7071);
const { child } = await spawnFunctionsHost({ appRoot: projectRoot, port, env: { ...process.env, [HOST_COMMAND_SETTING]: command }, stdio: 'inherit' });
console.log(`[start] serving through ${command} on http://localhost:${port}/api`);
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => child.kill(signal));
child.once('error', (error) => {
  console.error(`[start] cannot run ${command}: ${error.message}`);
  process.exit(1);
});
child.once('exit', (code, signal) => {
  if (code === 127) console.error(`[start] ${command.split(' ')[0]} was not found: install Azure Functions Core Tools, or set ${HOST_COMMAND_SETTING}`);
  void (issuer?.close() ?? Promise.resolve()).finally(() => process.exit(code ?? (signal ? 1 : 0)));
});
