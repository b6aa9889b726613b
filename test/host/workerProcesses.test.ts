import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import http from 'node:http';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { projectRoot, startHostProcess, type HostProcess } from '../support/hostProcess.js';
import { RabbitTestClient, rabbitUrl } from '../support/rabbit.js';

const appRoot = join(projectRoot, 'test/fixtures/host-app');
const queue = `host-workers-${randomUUID()}`;
const fixtureEnv = { FIXTURE_RABBITMQ_URL: rabbitUrl, FIXTURE_QUEUE: queue, FIXTURE_RESULTS_QUEUE: `${queue}.results` };

/** GET over a new connection (no keep-alive agent), so node:cluster hands each request to the next worker process. */
function getJson<T>(url: string): Promise<{ status: number; body: T }> {
  return new Promise((resolve, reject) => {
    http
      .get(url, { agent: false }, (response) => {
        let text = '';
        response.setEncoding('utf8');
        response.on('data', (chunk: string) => (text += chunk));
        response.on('end', () => resolve({ status: response.statusCode!, body: JSON.parse(text) as T }));
      })
      .on('error', reject);
  });
}

/** Runs the host until it exits by itself (it is expected to fail); resolves with its exit code and whole output. */
function runHostToExit(env: Record<string, string>, timeoutMs = 15_000): Promise<{ code: number | null; output: string }> {
  const child = spawn(process.execPath, [join(projectRoot, 'dist/src/host/main.js'), '--app-root', appRoot, '--port', '0'], {
    env: { ...process.env, ...fixtureEnv, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL'); // its worker processes exit when the IPC channel closes
      reject(new Error(`host still running after ${timeoutMs} ms:\n${output}`));
    }, timeoutMs);
    // 'close', not 'exit': all output has been read.
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
  });
}

const count = (text: string, fragment: string) => text.split(fragment).length - 1;

/** Signals the process unless it has exited already (an idle worker may be gone once the supervisor's shutdown reached it). */
function signalIfRunning(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ESRCH') throw error;
  }
}

describe('local Functions host with FUNCTIONS_WORKER_PROCESS_COUNT', () => {
  let rabbit: RabbitTestClient;

  beforeAll(async () => {
    // Every worker process consumes the fixture's queue; the host never declares it, the test does.
    rabbit = await RabbitTestClient.connect();
    await rabbit.channel.assertQueue(queue, { expires: 120_000 });
    await rabbit.channel.assertQueue(`${queue}.results`, { expires: 120_000 });
  });

  afterAll(async () => {
    await rabbit?.close();
  });

  describe('with 2 worker processes', () => {
    let host: HostProcess;
    let timerPid: number;

    beforeAll(async () => {
      host = await startHostProcess({ appRoot, env: { ...fixtureEnv, FUNCTIONS_WORKER_PROCESS_COUNT: '2' } });
    });

    afterAll(async () => {
      await host?.stop('SIGKILL');
    });

    const pidsOf = async (requests: number) => {
      const pids: number[] = [];
      for (let i = 0; i < requests; i++) {
        const { status, body } = await getJson<{ pid: number }>(`${host.baseUrl}/fx/pid`);
        expect(status).toBe(200);
        pids.push(body.pid);
      }
      return pids;
    };

    const ticksByPid = async () => {
      const ticks = new Map<number, number>();
      for (let i = 0; i < 4; i++) {
        const { body } = await getJson<{ ticks: number; pid: number }>(`${host.baseUrl}/fx/ticks`);
        ticks.set(body.pid, body.ticks);
      }
      return ticks;
    };

    it('when all worker processes are ready, then the host prints the function list once and how many processes serve', () => {
      expect(count(host.output(), '\nFunctions:\n')).toBe(1);
      expect(host.output()).toContain(`pid: [GET] ${host.baseUrl}/fx/pid`);
      expect(host.output()).toContain('tick: timerTrigger');
      expect(host.output()).toMatch(/Host started on http:\/\/localhost:\d+ with 2 worker processes/);
    });

    it('when requests come over new connections, then they are handed in turn to the two worker processes', async () => {
      const pids = new Set(await pidsOf(6));
      expect(pids.size).toBe(2);
      expect(pids.has(host.child.pid!)).toBe(false); // the supervisor serves nothing itself
    });

    it('when the timer is due, then it runs in exactly one worker process', async () => {
      // Both processes started within a second of each other: once one has ticked twice, the
      // other would have ticked at least once if it ran the timers too.
      await expect.poll(async () => Math.max(0, ...(await ticksByPid()).values()), { timeout: 5_000 }).toBeGreaterThanOrEqual(2);
      const ticks = await ticksByPid();
      expect(ticks.size).toBe(2);
      const ticking = [...ticks].filter(([, n]) => n > 0);
      expect(ticking).toHaveLength(1);
      timerPid = ticking[0]![0];
    });

    it('when a worker process is killed, then a new one replaces it and requests keep being answered', async () => {
      // The timer process: its replacement must take the timers over.
      process.kill(timerPid, 'SIGKILL');
      await expect.poll(() => host.output(), { timeout: 5_000 }).toContain(`Worker process ${timerPid} exited (SIGKILL); starting a new one`);
      // The survivor answers while the replacement loads the app.
      for (const pid of await pidsOf(3)) expect(pid).not.toBe(timerPid);

      await expect.poll(() => /Worker process (\d+) started/.exec(host.output()), { timeout: 10_000 }).toBeTruthy();
      const replacement = Number(/Worker process (\d+) started/.exec(host.output())![1]);
      const pids = new Set(await pidsOf(4));
      expect(pids.size).toBe(2);
      expect(pids.has(replacement)).toBe(true);
      expect(pids.has(timerPid)).toBe(false);
      await expect.poll(async () => (await ticksByPid()).get(replacement), { timeout: 5_000 }).toBeGreaterThan(0);
      expect([...(await ticksByPid())].filter(([, n]) => n > 0).map(([pid]) => pid)).toEqual([replacement]);
      // Still one function list and one start-up line.
      expect(count(host.output(), '\nFunctions:\n')).toBe(1);
      expect(count(host.output(), 'Host started on')).toBe(1);
    });

    it('when stopped with SIGTERM, then every worker process drains and the host exits 0', async () => {
      const slow = getJson<{ pid: number }>(`${host.baseUrl}/fx/work?waitMs=1000`);
      await new Promise((resolve) => setTimeout(resolve, 300)); // the request is in flight
      const code = await host.stop('SIGTERM');
      expect(code).toBe(0);
      expect((await slow).status).toBe(200);
      expect(host.output()).toContain('SIGTERM: draining in-flight invocations in 2 worker processes');
      // The worker processes write to the same pipe; their last lines may still be on the way.
      await expect.poll(() => count(host.output(), '[host] Stopped.'), { timeout: 2_000 }).toBe(2);
      expect(count(host.output(), 'Shutdown: draining in-flight invocations')).toBe(2);
    });
  });

  it('when Ctrl+C signals the supervisor and every worker process while one is busy, then the busy one still drains', async () => {
    const host = await startHostProcess({ appRoot, env: { ...fixtureEnv, FUNCTIONS_WORKER_PROCESS_COUNT: '2' } });
    try {
      const workers = new Set<number>();
      while (workers.size < 2) workers.add((await getJson<{ pid: number }>(`${host.baseUrl}/fx/pid`)).body.pid);
      // The busy process finds both its own SIGINT and the supervisor's shutdown message waiting;
      // whichever it handles first, this is one Ctrl+C, not the second that stops at once.
      const busy = getJson<{ pid: number }>(`${host.baseUrl}/fx/work?cpuMs=800&waitMs=500`);
      await new Promise((resolve) => setTimeout(resolve, 200));
      for (const pid of [host.child.pid!, ...workers]) signalIfRunning(pid, 'SIGINT'); // what a terminal does
      expect((await busy).status).toBe(200);
      const code = host.child.exitCode ?? (await new Promise((resolve) => host.child.once('exit', resolve)));
      expect(code).toBe(0);
    } finally {
      await host.stop('SIGKILL');
    }
  });

  it('when one worker process fails to start while another is still loading, then the host stops with exit code 1', async () => {
    const { code, output } = await runHostToExit({ FUNCTIONS_WORKER_PROCESS_COUNT: '2', FIXTURE_FAIL_TIMER_WORKER: '1' });
    expect(code).toBe(1);
    expect(output).toContain('failing to start on purpose');
    expect(output).toContain('A worker process failed to start');
    expect(output).not.toContain('Host started on');
  });

  it.each(['0', 'abc'])('when FUNCTIONS_WORKER_PROCESS_COUNT is "%s", then the host fails to start naming the setting', async (value) => {
    const { code, output } = await runHostToExit({ FUNCTIONS_WORKER_PROCESS_COUNT: value });
    expect(code).toBe(1);
    expect(output).toMatch(/Failed to start: .*FUNCTIONS_WORKER_PROCESS_COUNT/);
    expect(output).not.toContain('Host started on');
  });
});
