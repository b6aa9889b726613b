/*
 * npm run package -- [api|web ...] [--out <folder>]: stages what azd deploys, in <folder> (default
 * .local/deploy), for the services named (default both):
 *   api/  the function app package: dist/, host.json, package.json, migrations/ and production-only
 *         node_modules from the lock file, with a .funcignore that azd (and `func azure functionapp
 *         publish`, run inside the folder) applies when zipping it;
 *   web/  the storefront (web/dist) with the Static Web Apps routing file and, when the azd environment
 *         provides them, the /config.json its sign-in reads (docs/deploy.md).
 * azd runs it as each service's `prepackage` hook (azure.yaml), after its `npm run build` and before it
 * zips the service's `dist` folder. Node and path.join only, so the hook runs the same from sh and pwsh.
 */
import { execFileSync, type ExecFileSyncOptions } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { parseArgs } from 'node:util';

const root = resolve(import.meta.dirname, '..');
const { values, positionals } = parseArgs({ allowPositionals: true, options: { out: { type: 'string' } } });
const target = resolve(values.out ?? join(root, '.local', 'deploy'));
const services = positionals.length > 0 ? positionals : ['api', 'web'];
for (const name of services) if (!['api', 'web'].includes(name)) fail(`unknown service ${name} (api or web)`);

function fail(message: string): never {
  console.error(`package: ${message}`);
  process.exit(1);
}

/** npm itself: the one running this script when there is one (npm_execpath), so no shell is needed on Windows. */
function npm(args: string[], options: ExecFileSyncOptions): void {
  const cli = process.env.npm_execpath;
  if (cli && cli.endsWith('.js')) execFileSync(process.execPath, [cli, ...args], options);
  else execFileSync('npm', args, { ...options, shell: process.platform === 'win32' });
}

function sizeOf(path: string): number {
  const stat = statSync(path);
  return stat.isDirectory() ? readdirSync(path).reduce((sum, name) => sum + sizeOf(join(path, name)), 0) : stat.size;
}

// azd runs `npm run build` just before; building again here would rewrite dist/ under running tests.
for (const built of [join('dist', 'functions', 'index.js'), join('web', 'dist', 'index.html')]) {
  if (!existsSync(join(root, built))) fail(`${built} is missing; run npm run build first`);
}

function stageApi(): string {
  const api = join(target, 'api');
  rmSync(api, { recursive: true, force: true });
  mkdirSync(api, { recursive: true });
  for (const item of ['dist', 'host.json', 'package.json', 'package-lock.json', 'migrations']) cpSync(join(root, item), join(api, item), { recursive: true });
  npm(['ci', '--omit=dev', '--ignore-scripts', '--no-audit', '--no-fund', '--loglevel=error'], { cwd: api, stdio: ['ignore', 'ignore', 'inherit'] });
  // No negations: azd before 1.23.13 ignored them (azure-dev#7311). Everything else here is the package.
  writeFileSync(
    join(api, '.funcignore'),
    '# azd and `func azure functionapp publish` zip this folder through this file (gitignore rules).\n' +
      '# The lock file was needed only to install node_modules.\n/package-lock.json\n',
  );
  return api;
}

function stageWeb(): string {
  const web = join(target, 'web');
  rmSync(web, { recursive: true, force: true });
  mkdirSync(web, { recursive: true });
  cpSync(join(root, 'web', 'dist'), web, { recursive: true });
  // Client-side routes (/cart, /orders/<id>) are answered with index.html; built assets and config.json are not.
  const routing = {
    navigationFallback: { rewrite: '/index.html', exclude: ['/assets/*', '/config.json'] },
    globalHeaders: { 'X-Content-Type-Options': 'nosniff', 'Referrer-Policy': 'no-referrer' },
  };
  writeFileSync(join(web, 'staticwebapp.config.json'), `${JSON.stringify(routing, null, 2)}\n`);

  // The storefront's settings (web/src/config.ts). azd passes its environment, outputs included, to hooks.
  const env = process.env;
  const tenant = env.ENTRA_TENANT_ID || env.AZURE_TENANT_ID;
  if (env.API_BASE_URL && tenant && env.ENTRA_CLIENT_ID && env.STOREFRONT_CLIENT_ID) {
    const config = {
      apiBaseUrl: env.API_BASE_URL,
      auth: {
        clientId: env.STOREFRONT_CLIENT_ID,
        authority: `https://login.microsoftonline.com/${tenant}`,
        apiScope: `api://${env.ENTRA_CLIENT_ID}/access_as_user`,
      },
    };
    writeFileSync(join(web, 'config.json'), `${JSON.stringify(config, null, 2)}\n`);
  } else if (env.AZURE_ENV_NAME) {
    fail('the storefront needs API_BASE_URL, ENTRA_CLIENT_ID, STOREFRONT_CLIENT_ID and a tenant id in the azd environment (docs/deploy.md)');
  }
  return web;
}

for (const name of services) {
  const staged = name === 'api' ? stageApi() : stageWeb();
  console.error(`package: ${name} staged in ${relative(process.cwd(), staged) || '.'} (${(sizeOf(staged) / 1024 / 1024).toFixed(1)} MiB)`);
}
