import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { projectRoot } from '../support/hostProcess.js';
import { fromWire, toWire, type HarnessInput, type HarnessOutput } from './wire.js';

/**
 * Runs invocation requests against the built app in a fresh Node process (see invokeApp.ts) and
 * resolves with the results and everything the process printed.
 */
export async function invokeApp(invocations: HarnessInput['invocations'], env: Record<string, string | undefined>): Promise<HarnessOutput & { output: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'shop-conformance-'));
  const inputPath = join(dir, 'input.json');
  const outputPath = join(dir, 'output.json');
  writeFileSync(inputPath, JSON.stringify(toWire({ appRoot: projectRoot, invocations } satisfies HarnessInput)));
  const child = spawn(process.execPath, ['--import', 'tsx', join(import.meta.dirname, 'invokeApp.ts'), inputPath, outputPath], {
    cwd: projectRoot,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  if (code !== 0) throw new Error(`the app process exited with ${code}:\n${output}`);
  return { ...(fromWire(JSON.parse(readFileSync(outputPath, 'utf8'))) as HarnessOutput), output };
}
