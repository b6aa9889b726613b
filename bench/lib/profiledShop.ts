import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { devIssuerSettings, startDevIssuer } from '../../src/dev-issuer/index.js';
import { projectRoot, type HostProcess } from '../../test/support/hostProcess.js';
import { uniqueUser, type Shop } from '../../test/support/shop.js';

/**
 * Like test/support/shop.ts startShop, with two differences for measuring: the host can run under
 * `node --cpu-prof` (not allowed in NODE_OPTIONS, so the host is spawned here; the profile is written
 * when it exits on SIGTERM), and the host's output is not accumulated and re-scanned in the bench
 * process (hostProcess.ts runs its start-up regex over the whole growing output on every chunk,
 * which costs the load generator CPU on this 2-core box).
 */
export async function startProfiledShop(env: Record<string, string>, profileDir?: string): Promise<Shop> {
  const issuer = await startDevIssuer({ dir: mkdtempSync(join(tmpdir(), 'shop-issuer-')), httpsPort: 0, httpPort: 0 });
  const child = spawn(
    process.execPath,
    [...(profileDir ? ['--cpu-prof', '--cpu-prof-dir', profileDir] : []), join(projectRoot, 'dist/src/host/main.js'), '--app-root', projectRoot, '--port', '0'],
    { env: { ...process.env, ...env, ...devIssuerSettings({ issuer: issuer.issuer, jwksUri: issuer.jwksUri }) }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let output = '';
  // Keep only the start of the output: the bench process must not spend its CPU on the host's logs.
  const keep = (chunk: Buffer) => {
    if (output.length < 20_000) output += chunk.toString();
  };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const baseUrl = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`host did not start:\n${output}`)), 30_000);
    child.stdout!.on('data', function check() {
      const match = /Host started on (http:\/\/\S+)/.exec(output);
      if (match) {
        clearTimeout(timer);
        child.stdout!.off('data', check);
        resolve(match[1]!);
      }
    });
    void exited.then((code) => reject(new Error(`host exited with ${code}:\n${output}`)));
  });
  const host: HostProcess = {
    baseUrl,
    child,
    output: () => output,
    stop: async (signal = 'SIGTERM') => {
      if (child.exitCode === null) child.kill(signal);
      return exited;
    },
  };
  const api = `${baseUrl}/api`;
  return {
    api,
    host,
    issuer,
    token: ({ user = uniqueUser(), roles, scopes } = {}) => issuer.mintUserToken({ user, roles, scopes }),
    call: (path, { method = 'GET', token, body, headers = {} } = {}) =>
      fetch(`${api}${path}`, {
        method,
        headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...headers },
        body: body === undefined ? undefined : JSON.stringify(body),
      }),
    async stop() {
      await host.stop();
      await issuer.close();
    },
  };
}
