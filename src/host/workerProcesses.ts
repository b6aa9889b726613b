import cluster, { type Worker } from 'node:cluster';
import type { HostLogger } from './logger.js';
import { onStopSignals } from './stopSignals.js';

export const workerProcessCountSetting = 'FUNCTIONS_WORKER_PROCESS_COUNT';

/**
 * How many language worker processes to run, from the app setting the real host reads: default 1,
 * at most 10 (https://learn.microsoft.com/azure/azure-functions/functions-app-settings#functions_worker_process_count).
 */
export function workerProcessCount(env: NodeJS.ProcessEnv = process.env): number {
  const raw = env[workerProcessCountSetting]?.trim();
  if (!raw) return 1;
  const count = /^\d+$/.test(raw) ? Number(raw) : NaN;
  if (!(count >= 1 && count <= 10)) {
    throw new Error(`Setting ${workerProcessCountSetting} must be a whole number from 1 to 10, not "${raw}"`);
  }
  return count;
}

/** Messages between the supervising process and its worker processes (over the cluster IPC channel). */
export type WorkerMessage = { type: 'ready'; baseUrl: string; description: string } | { type: 'shutdown' };

/** Set in the environment of the one worker process that runs the timer triggers. */
const timerWorkerVariable = 'LOCAL_HOST_RUNS_TIMERS';

/** Whether this process should run the timer triggers: always with one process, else only the chosen worker. */
export function runsTimers(): boolean {
  return cluster.isPrimary || process.env[timerWorkerVariable] === '1';
}

/**
 * The supervising process when FUNCTIONS_WORKER_PROCESS_COUNT > 1. Each worker process loads the
 * app and runs a whole local host; they share the HTTP port (node:cluster hands each new connection
 * to the next worker), each consumes the RabbitMQ queues (competing consumers) and one runs the
 * timers. Like the host, a worker process that dies after start-up is replaced; one that fails to
 * start stops everything, since its siblings would fail the same way.
 */
export function superviseWorkers(count: number, logger: HostLogger): void {
  const ready = new Set<number>();
  let announced = false;
  let stopping = false;
  let failed = false;

  const fork = (runsTimerTriggers: boolean): Worker => {
    const worker = cluster.fork({ [timerWorkerVariable]: runsTimerTriggers ? '1' : '0' });
    worker.on('message', (message: WorkerMessage) => {
      if (message.type !== 'ready') return;
      if (stopping) {
        // A shutdown sent while this process was still loading the app found no listener and was
        // dropped; now that it serves, tell it again (and do not announce a host that is stopping).
        worker.send({ type: 'shutdown' } satisfies WorkerMessage);
        return;
      }
      ready.add(worker.id);
      if (announced) logger.host(`Worker process ${worker.process.pid} started`);
      else if (ready.size === count) {
        announced = true;
        process.stdout.write(`\n${message.description}\n\n`);
        logger.host(`Host started on ${message.baseUrl} with ${count} worker processes (Ctrl+C to stop)`);
      }
    });
    worker.on('exit', (code, signal) => {
      const wasReady = ready.delete(worker.id);
      if (stopping) {
        if (code !== 0) failed = true;
        if (Object.keys(cluster.workers ?? {}).length === 0) process.exit(failed ? 1 : 0);
        return;
      }
      if (!wasReady) {
        logger.error(`A worker process failed to start (exit code ${code ?? signal}); stopping.`);
        failed = true;
        stopAll();
        return;
      }
      logger.error(`Worker process ${worker.process.pid} exited (${signal ?? `code ${code}`}); starting a new one.`);
      fork(runsTimerTriggers);
    });
    return worker;
  };

  const stopAll = () => {
    stopping = true;
    const workers = Object.values(cluster.workers ?? {});
    if (workers.length === 0) process.exit(failed ? 1 : 0);
    for (const worker of workers) if (worker?.isConnected()) worker.send({ type: 'shutdown' } satisfies WorkerMessage);
  };

  // A second Ctrl+C exits at once; the workers follow when their IPC channel closes.
  onStopSignals((signal) => {
    logger.host(`${signal}: draining in-flight invocations in ${count} worker processes...`);
    stopAll();
  });
  for (let index = 0; index < count; index++) fork(index === 0);
}
