import cluster from 'node:cluster';
import { parseArgs } from 'node:util';
import { applyLocalSettings } from './hostConfig.js';
import { LocalFunctionsHost } from './localHost.js';
import { HostLogger } from './logger.js';
import { onStopSignals } from './stopSignals.js';
import { runsTimers, superviseWorkers, workerProcessCount, type WorkerMessage } from './workerProcesses.js';

const { values } = parseArgs({
  options: {
    'app-root': { type: 'string', default: process.cwd() },
    port: { type: 'string' },
  },
});
const appRoot = values['app-root']!;
const logger = new HostLogger();

let processCount: number;
try {
  applyLocalSettings(appRoot); // FUNCTIONS_WORKER_PROCESS_COUNT may come from local.settings.json
  processCount = workerProcessCount();
} catch (error) {
  logger.error(`Failed to start: ${(error as Error).message}`);
  process.exit(1);
}

if (processCount > 1 && cluster.isPrimary) superviseWorkers(processCount, logger);
else await serve();

/** One worker process: loads the app and serves its triggers until told to stop. */
async function serve(): Promise<void> {
  let host: LocalFunctionsHost;
  try {
    host = await LocalFunctionsHost.start({
      appRoot,
      port: values.port === undefined ? undefined : Number(values.port),
      runTimers: runsTimers(),
      logger,
    });
  } catch (error) {
    logger.error(`Failed to start: ${(error as Error).message}`);
    process.exit(1);
  }

  let stopping = false;
  const stop = (reason: string) => {
    if (stopping) return;
    stopping = true;
    logger.host(`${reason}: draining in-flight invocations...`);
    void host.close().then(
      () => process.exit(0),
      (error: unknown) => {
        logger.error(`Error while stopping: ${(error as Error).message}`);
        process.exit(1);
      },
    );
  };
  onStopSignals(stop); // the supervisor's shutdown message (below) never counts as a signal

  if (cluster.isWorker) {
    // The supervisor prints the function list once every worker process is serving.
    process.send!({ type: 'ready', baseUrl: host.baseUrl, description: host.describe() } satisfies WorkerMessage);
    process.on('message', (message: WorkerMessage) => {
      if (message.type === 'shutdown') stop('Shutdown');
    });
  } else {
    process.stdout.write(`\n${host.describe()}\n\n`);
    logger.host(`Host started on ${host.baseUrl} (Ctrl+C to stop)`);
  }
}
