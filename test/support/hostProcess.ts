import type { ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { startMailCatcher, type MailCatcher } from './mailCatcher.js';
import { spawnFunctionsHost, uniqueHostId, unwrapWorkerConsole, waitForHostCommand } from '../../scripts/functionsHost.js';

export const projectRoot = join(import.meta.dirname, '../..');

export interface HostProcess {
  baseUrl: string;
  child: ChildProcess;
  /** The host command (FUNCTIONS_HOST_COMMAND) serving the app, or undefined for the local host. */
  command: string | undefined;
  /** What the host printed; under a host command, the app's lines unwrapped from the host's console entries. */
  output(): string;
  /** The SMTP catcher the host sends notifications to, when the test gave no SMTP_URL of its own. */
  mail: MailCatcher | undefined;
  /** Sends a signal and waits for the process to exit; resolves with its exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/**
 * Starts the built app the way `npm run dev` does, as a child process on a free port: under the
 * local host (`dist/src/host/main.js`), resolving once it prints its base URL, or, when
 * FUNCTIONS_HOST_COMMAND is set, under that command (the real host), resolving once it serves.
 */
export async function startHostProcess(options: {
  appRoot: string;
  env?: Record<string, string | undefined>;
  timeoutMs?: number;
  /** Extra node flags, e.g. `--cpu-prof` for the bench (not allowed in NODE_OPTIONS; local host only). */
  nodeArgs?: string[];
}): Promise<HostProcess> {
  // Every host of the app gets a catcher of its own, so notifications neither fail nor reach another test's.
  const mail = options.appRoot === projectRoot && options.env?.SMTP_URL === undefined && process.env.SMTP_URL === undefined ? await startMailCatcher() : undefined;
  const env: NodeJS.ProcessEnv = { ...process.env, ...(mail ? { SMTP_URL: mail.smtpUrl } : {}), ...options.env };
  // Each host under test runs its own timers, as local hosts do, instead of waiting for another's lock.
  env.AzureFunctionsWebHost__hostid ??= uniqueHostId();
  const { child, command, port } = await spawnFunctionsHost({
    appRoot: options.appRoot,
    port: 0,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
    // Its own process group: a stop ends the real host's worker processes as well.
    detached: true,
    nodeArgs: options.nodeArgs,
  });
  // Kept for assertions and failure messages; bounded so a long load test stays cheap.
  const maxOutput = 4 * 1024 * 1024;
  let output = '';
  const keep = (chunk: Buffer) => {
    output += chunk.toString();
    if (output.length > maxOutput) output = output.slice(-maxOutput / 2);
  };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  const readOutput = command ? () => unwrapWorkerConsole(output) : () => output;
  const exited = new Promise<number | null>((resolve) =>
    child.once('exit', (code) => {
      // Whatever the host left behind (a worker process of a host that was killed).
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        // the group is gone already
      }
      void mail?.stop();
      resolve(code);
    }),
  );

  const timeoutMs = options.timeoutMs ?? (command ? 120_000 : 30_000);
  let baseUrl: string;
  if (command) {
    baseUrl = `http://127.0.0.1:${port}`;
    await waitForHostCommand(baseUrl, readOutput, exited, timeoutMs).catch((error: unknown) => {
      stopGroup(child);
      throw error;
    });
  } else {
    baseUrl = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`host did not start in time:\n${output}`)), timeoutMs);
      const check = () => {
        const match = /Host started on (http:\/\/\S+)/.exec(output);
        if (match) {
          clearTimeout(timer);
          child.stdout!.off('data', check);
          resolve(match[1]!);
        }
      };
      child.stdout!.on('data', check);
      void exited.then((code) => {
        clearTimeout(timer);
        reject(new Error(`host exited with ${code} before starting:\n${output}`));
      });
    });
  }

  return {
    baseUrl,
    child,
    command,
    mail,
    output: readOutput,
    stop: async (signal = 'SIGTERM') => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
  };
}

function stopGroup(child: ChildProcess): void {
  try {
    process.kill(-child.pid!, 'SIGTERM');
  } catch {
    // already gone
  }
}
