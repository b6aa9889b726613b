import { execFileSync, type ExecFileSyncOptions } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { projectRoot } from '../support/bicep.js';

/*
 * A fresh clone of this repository walked through what `azd package` / `azd deploy` does for each
 * service, as azd's source defines it (Azure/azure-dev, cli/azd/pkg/project at azure-dev-cli_1.31.2;
 * azure.yaml requires >= 1.23.13):
 *   restore   `npm install --no-audit --no-fund --prefer-offline` (framework_service_node.go Restore;
 *             tools/node/node.go), since a fresh clone has no node_modules
 *   build     `npm run build` (framework_service_node.go Build)
 *   prepackage hook, from azure.yaml (service_manager.go Package wraps the framework and target
 *             packaging in runCommand(ServiceEventPackage), so the hook runs after the build)
 *   package   `npm run build` again, then `dist` must be a non-empty folder (framework_service_node.go Package)
 *   zip       function app: `dist` zipped through its .funcignore (gitignore rules), minus .azure/, the
 *             ignore file and local.settings.json (project_utils.go createDeployableZip); static web
 *             app: the folder as it is (service_target_staticwebapp.go)
 * Only committed files reach the clone: commit before running this.
 */
type Hook = { shell: string; run: string };
type Service = { project: string; host: string; language: string; dist: string; remoteBuild?: boolean; hooks?: Record<string, { posix?: Hook; windows?: Hook }> };
const manifest = parseYaml(readFileSync(join(projectRoot, 'azure.yaml'), 'utf8')) as { services: Record<string, Service> };

const work = mkdtempSync(join(tmpdir(), 'shop-azd-'));
const clone = join(work, 'clone');
const azdEnvironment = {
  AZURE_ENV_NAME: 'shop-test',
  API_BASE_URL: 'https://func-api-example.azurewebsites.net/api',
  AZURE_TENANT_ID: '11111111-1111-1111-1111-111111111111',
  ENTRA_CLIENT_ID: '22222222-2222-2222-2222-222222222222',
  STOREFRONT_CLIENT_ID: '33333333-3333-3333-3333-333333333333',
};
const zips: Record<string, { path: string; entries: string[] }> = {};

function run(command: string, args: string[], cwd: string, options: ExecFileSyncOptions = {}): string {
  // Niced: this runs beside the other unit test files on a 2-core machine.
  return execFileSync('nice', [command, ...args], { cwd, maxBuffer: 256 * 1024 * 1024, stdio: 'pipe', ...options }).toString();
}

/** Files azd's createDeployableZip keeps for a function app: gitignore rules from .funcignore, then its fixed exclusions. */
function keptForFunctionApp(dir: string): string[] {
  run('git', ['init', '--quiet', dir], dir);
  try {
    const listing = run('git', ['-C', dir, 'ls-files', '--others', '--exclude-per-directory=.funcignore'], dir);
    return listing
      .split('\n')
      .filter(Boolean)
      .filter((file) => file !== '.funcignore' && file !== 'local.settings.json' && !file.split('/').includes('.azure'));
  } finally {
    rmSync(join(dir, '.git'), { recursive: true, force: true });
  }
}

function zipOf(name: string, dir: string, files: string[]): { path: string; entries: string[] } {
  const path = join(work, `${name}.zip`);
  run('zip', ['-q', '-X', path, '-@'], dir, { input: files.join('\n') });
  return { path, entries: run('unzip', ['-Z1', path], dir).split('\n').filter(Boolean) };
}

beforeAll(() => {
  run('git', ['clone', '--quiet', projectRoot, clone], work);
  const env = { ...process.env, ...azdEnvironment };
  run('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline'], clone, { env });
  for (const [name, service] of Object.entries(manifest.services)) {
    const projectDir = join(clone, service.project);
    run('npm', ['run', 'build'], projectDir, { env });
    const hook = service.hooks?.prepackage?.posix;
    if (hook) run(hook.shell, ['-c', hook.run], projectDir, { env });
    run('npm', ['run', 'build'], projectDir, { env });
    const dist = join(projectDir, service.dist);
    if (!existsSync(dist) || readdirSync(dist).length === 0) throw new Error(`package source '${dist}' is empty or does not exist (azd fails here)`);
    const files =
      service.host === 'function'
        ? keptForFunctionApp(dist)
        : run('find', ['.', '-type', 'f'], dist)
            .split('\n')
            .filter(Boolean)
            .map((file) => file.replace(/^\.\//, ''));
    zips[name] = zipOf(name, dist, files);
    console.info(`[package] ${name}.zip: ${zips[name].entries.length} entries, ${(statSync(zips[name].path).size / 1024 / 1024).toFixed(1)} MiB`);
  }
}, 1_200_000);

afterAll(() => rmSync(work, { recursive: true, force: true }), 600_000);

describe('azure.yaml, as azd reads it', () => {
  it('when a service is packaged, then a prepackage hook fills its dist folder, the same command from sh and from pwsh', () => {
    for (const [name, service] of Object.entries(manifest.services)) {
      const hook = service.hooks?.prepackage;
      expect(hook?.posix, name).toEqual({ shell: 'sh', run: `npm run package -- ${name}` });
      expect(hook?.windows, name).toEqual({ shell: 'pwsh', run: `npm run package -- ${name}` });
      expect(service.dist, name).toBe(`.local/deploy/${name}`);
    }
    const scripts = (JSON.parse(readFileSync(join(projectRoot, 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts;
    // Node runs it on any OS: no bash, no POSIX paths in the command.
    expect(scripts.package).toBe('tsx scripts/package.ts');
  });

  it('when the API is an Elastic Premium function app, then no remoteBuild is set (azd accepts it on Flex Consumption only)', () => {
    expect(manifest.services.api).not.toHaveProperty('remoteBuild');
    expect(manifest.services.api!.host).toBe('function');
  });
});

describe('deployment package of the API, from a fresh clone', () => {
  it('when azd zips it, then it holds dist/, host.json, package.json, migrations/ and node_modules, and nothing else', () => {
    const entries = zips.api!.entries;
    const topLevel = new Set(entries.map((entry) => entry.split('/')[0]));
    expect([...topLevel].sort()).toEqual(['dist', 'host.json', 'migrations', 'node_modules', 'package.json']);
    expect(entries.filter((entry) => entry.startsWith('migrations/') && !entry.endsWith('/')).every((entry) => entry.endsWith('.sql'))).toBe(true);
    expect(entries).toContain('dist/functions/index.js');
    expect(entries.some((entry) => entry.includes('\\'))).toBe(false);
    const main = (JSON.parse(readFileSync(join(clone, '.local/deploy/api/package.json'), 'utf8')) as { main: string }).main;
    expect(entries).toContain(main);
    // Elastic Premium runs from a package of any reasonable size; this catches dev dependencies or sources slipping in.
    expect(statSync(zips.api!.path).size / 1024 / 1024).toBeLessThan(100);
  });

  it('when node_modules is installed from the lock file, then every production package is in the zip and no dev package is', () => {
    const lock = JSON.parse(readFileSync(join(clone, 'package-lock.json'), 'utf8')) as {
      packages: Record<string, { dev?: boolean; optional?: boolean }>;
    };
    const zipped = new Set(zips.api!.entries);
    const inZip = (path: string) => zipped.has(`${path}/package.json`);
    const entries = Object.entries(lock.packages).filter(([path]) => path.startsWith('node_modules/'));
    const devOnly = entries.filter(([, p]) => p.dev).map(([path]) => path);
    const production = entries.filter(([, p]) => !p.dev && !p.optional).map(([path]) => path);
    expect(devOnly.length).toBeGreaterThan(0);
    expect(devOnly.filter(inZip)).toEqual([]);
    expect(production.filter((path) => !inZip(path))).toEqual([]);
  });

  it('when the zip is unpacked, then every package the compiled app imports resolves inside it', () => {
    const unpacked = join(work, 'api-unpacked');
    run('unzip', ['-q', zips.api!.path, '-d', unpacked], work);
    const specifiers = new Set<string>();
    for (const entry of zips.api!.entries.filter((e) => e.startsWith('dist/') && e.endsWith('.js'))) {
      for (const match of readFileSync(join(unpacked, entry), 'utf8').matchAll(/(?:from|import)\s*\(?\s*'([^'.][^']*)'/g)) {
        if (!match[1]!.startsWith('node:')) specifiers.add(match[1]!);
      }
    }
    expect(specifiers.size).toBeGreaterThan(5);
    const probe = `for (const s of ${JSON.stringify([...specifiers])}) { try { import.meta.resolve(s); } catch { console.log(s); } }`;
    const unresolved = run(process.execPath, ['--input-type=module', '-e', probe], join(unpacked, 'dist')).split('\n').filter(Boolean);
    expect(unresolved).toEqual([]);
  }, 120_000);
});

describe('deployment package of the storefront, from a fresh clone', () => {
  it('when azd deploys it, then it holds the built assets, the routing file and config.json from the azd environment', () => {
    const entries = zips.web!.entries;
    expect(entries).toContain('index.html');
    expect(entries.some((entry) => /^assets\/.+\.js$/.test(entry))).toBe(true);
    expect(entries).toContain('staticwebapp.config.json');
    const dist = join(clone, '.local/deploy/web');
    expect(JSON.parse(readFileSync(join(dist, 'config.json'), 'utf8'))).toEqual({
      apiBaseUrl: azdEnvironment.API_BASE_URL,
      auth: {
        clientId: azdEnvironment.STOREFRONT_CLIENT_ID,
        authority: `https://login.microsoftonline.com/${azdEnvironment.AZURE_TENANT_ID}`,
        apiScope: `api://${azdEnvironment.ENTRA_CLIENT_ID}/access_as_user`,
      },
    });
    const routing = JSON.parse(readFileSync(join(dist, 'staticwebapp.config.json'), 'utf8')) as { navigationFallback: { rewrite: string; exclude: string[] } };
    expect(routing.navigationFallback.rewrite).toBe('/index.html');
    expect(routing.navigationFallback.exclude).toEqual(expect.arrayContaining(['/assets/*', '/config.json']));
  });
});
