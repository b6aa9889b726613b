import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { projectRoot } from '../support/bicep.js';

// `npm run package` (scripts/package.sh) stages what azd deploys; these tests zip the API the way azd
// and `func azure functionapp publish` do (gitignore rules from .funcignore) and look inside.
const staging = mkdtempSync(join(tmpdir(), 'shop-package-'));
const api = join(staging, 'api');
const web = join(staging, 'web');
const storefrontEnvironment = {
  API_BASE_URL: 'https://func-api-example.azurewebsites.net/api',
  AZURE_TENANT_ID: '11111111-1111-1111-1111-111111111111',
  ENTRA_CLIENT_ID: '22222222-2222-2222-2222-222222222222',
  STOREFRONT_CLIENT_ID: '33333333-3333-3333-3333-333333333333',
};

let packaged: string[];

/** Files a zip of `dir` holds when its .funcignore is applied with gitignore rules. */
function filesKeptByFuncignore(dir: string): string[] {
  execFileSync('git', ['init', '--quiet', dir]);
  try {
    const listing = execFileSync('git', ['-C', dir, 'ls-files', '--others', '--exclude-per-directory=.funcignore'], { maxBuffer: 256 * 1024 * 1024 });
    return listing.toString().split('\n').filter(Boolean);
  } finally {
    rmSync(join(dir, '.git'), { recursive: true, force: true });
  }
}

beforeAll(() => {
  // `npm test` has built already; `npm run test:unit` has not (azd, too, builds before it packages).
  if (!existsSync(join(projectRoot, 'dist', 'functions', 'index.js')) || !existsSync(join(projectRoot, 'web', 'dist', 'index.html'))) {
    execFileSync('npm', ['run', '--silent', 'build'], { cwd: projectRoot, stdio: ['ignore', 'ignore', 'pipe'] });
  }
  const { AZURE_ENV_NAME: _notUnderAzd, ...environment } = process.env;
  // Niced: npm ci runs beside the other unit test files on a 2-core machine.
  execFileSync('nice', ['bash', join(projectRoot, 'scripts', 'package.sh'), staging], {
    env: { ...environment, ...storefrontEnvironment },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  packaged = filesKeptByFuncignore(api);
}, 600_000);

afterAll(() => rmSync(staging, { recursive: true, force: true }), 120_000);

describe('deployment package of the API', () => {
  it('when the package is zipped through .funcignore, then it holds only dist/, host.json, package.json, node_modules and migrations/', () => {
    const topLevel = new Set(packaged.map((file) => file.split('/')[0]));
    expect([...topLevel].sort()).toEqual(['dist', 'host.json', 'migrations', 'node_modules', 'package.json']);
    expect(packaged.filter((file) => file.startsWith('migrations/')).every((file) => file.endsWith('.sql'))).toBe(true);
    const main = (JSON.parse(readFileSync(join(api, 'package.json'), 'utf8')) as { main: string }).main;
    expect(packaged).toContain(main);

    const zip = join(staging, 'api.zip');
    execFileSync('zip', ['-q', '-X', zip, '-@'], { cwd: api, input: packaged.join('\n'), maxBuffer: 64 * 1024 * 1024 });
    const megabytes = statSync(zip).size / 1024 / 1024;
    console.info(`[package] api.zip: ${packaged.length} files, ${megabytes.toFixed(1)} MiB`);
    // Elastic Premium runs from a package of any reasonable size; this catches dev dependencies or .local/ slipping in.
    expect(megabytes).toBeLessThan(100);
  }, 180_000);

  it('when node_modules is installed from the lock file, then every production package is there and no dev package is', () => {
    const lock = JSON.parse(readFileSync(join(projectRoot, 'package-lock.json'), 'utf8')) as {
      packages: Record<string, { dev?: boolean; optional?: boolean; os?: string[]; cpu?: string[] }>;
    };
    const installed = (path: string) => existsSync(join(api, path, 'package.json'));
    const entries = Object.entries(lock.packages).filter(([path]) => path.startsWith('node_modules/'));
    const devOnly = entries.filter(([, p]) => p.dev).map(([path]) => path);
    const production = entries.filter(([, p]) => !p.dev && !p.optional).map(([path]) => path);
    expect(devOnly.length).toBeGreaterThan(0);
    expect(devOnly.filter(installed)).toEqual([]);
    expect(production.filter((path) => !installed(path))).toEqual([]);
  }, 30_000);

  it('when the compiled app imports a package, then the package resolves inside the deployment package', () => {
    const specifiers = new Set<string>();
    const walk = (dir: string): void => {
      for (const entry of readdirSync(dir, { withFileTypes: true })) {
        const path = join(dir, entry.name);
        if (entry.isDirectory()) walk(path);
        else if (entry.name.endsWith('.js')) {
          for (const match of readFileSync(path, 'utf8').matchAll(/(?:from|import)\s*\(?\s*'([^'.][^']*)'/g)) {
            if (!match[1]!.startsWith('node:')) specifiers.add(match[1]!);
          }
        }
      }
    };
    walk(join(api, 'dist'));
    expect(specifiers.size).toBeGreaterThan(5);

    const probe = join(api, 'dist', 'resolve-probe.mjs');
    writeFileSync(probe, `for (const s of ${JSON.stringify([...specifiers])}) { try { import.meta.resolve(s); } catch { console.log(s); } }\n`);
    try {
      const unresolved = execFileSync(process.execPath, [probe], { cwd: api }).toString().split('\n').filter(Boolean);
      expect(unresolved).toEqual([]);
    } finally {
      rmSync(probe);
    }
  }, 30_000);
});

describe('deployment package of the storefront', () => {
  it('when the azd environment names the API and the app registrations, then config.json gives the storefront its sign-in settings', () => {
    expect(existsSync(join(web, 'index.html'))).toBe(true);
    expect(JSON.parse(readFileSync(join(web, 'config.json'), 'utf8'))).toEqual({
      apiBaseUrl: storefrontEnvironment.API_BASE_URL,
      auth: {
        clientId: storefrontEnvironment.STOREFRONT_CLIENT_ID,
        authority: `https://login.microsoftonline.com/${storefrontEnvironment.AZURE_TENANT_ID}`,
        apiScope: `api://${storefrontEnvironment.ENTRA_CLIENT_ID}/access_as_user`,
      },
    });
  });

  it('when a client-side route is requested, then Static Web Apps answers with index.html, but never for assets or config.json', () => {
    const routing = JSON.parse(readFileSync(join(web, 'staticwebapp.config.json'), 'utf8')) as {
      navigationFallback: { rewrite: string; exclude: string[] };
    };
    expect(routing.navigationFallback.rewrite).toBe('/index.html');
    expect(routing.navigationFallback.exclude).toEqual(expect.arrayContaining(['/assets/*', '/config.json']));
  });
});
