import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';

export const projectRoot = join(import.meta.dirname, '../..');

export interface HostProcess {
  baseUrl: string;
  child: ChildProcess;
  output(): string;
  /** Sends a signal and waits for the process to exit; resolves with its exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/**
 * Starts the built local host (`dist/src/host/main.js`) as a child process on a free port, the way
 * `npm run dev` does, and resolves once it prints its base URL.
 */
export async function startHostProcess(options: {
  appRoot: string;
  env?: Record<string, string | undefined>;
  timeoutMs?: number;
  /** Extra node flags, e.g. `--cpu-prof` for the bench (not allowed in NODE_OPTIONS). */
  nodeArgs?: string[];
}): Promise<HostProcess> {
  const child = spawn(process.execPath, [...(options.nodeArgs ?? []), join(projectRoot, 'dist/src/host/main.js'), '--app-root', options.appRoot, '--port', '0'], {
    env: { ...process.env, ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
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
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));

  const baseUrl = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`host did not start in time:\n${output}`)), options.timeoutMs ?? 30_000);
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

  return {
    baseUrl,
    child,
    output: () => output,
    stop: async (signal = 'SIGTERM') => {
      if (child.exitCode === null) child.kill(signal);
      return exited;
    },
  };
}
