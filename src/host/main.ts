import { parseArgs } from 'node:util';
import { LocalFunctionsHost } from './localHost.js';
import { HostLogger } from './logger.js';

const { values } = parseArgs({
  options: {
    'app-root': { type: 'string', default: process.cwd() },
    port: { type: 'string' },
  },
});

const logger = new HostLogger();
let host: LocalFunctionsHost;
try {
  host = await LocalFunctionsHost.start({
    appRoot: values['app-root']!,
    port: values.port === undefined ? undefined : Number(values.port),
    logger,
  });
} catch (error) {
  logger.error(`Failed to start: ${(error as Error).message}`);
  process.exit(1);
}
process.stdout.write(`\n${host.describe()}\n\n`);
logger.host(`Host started on ${host.baseUrl} (Ctrl+C to stop)`);

let stopping = false;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    if (stopping) process.exit(130); // a second Ctrl+C stops at once
    stopping = true;
    logger.host(`${signal}: draining in-flight invocations...`);
    void host.close().then(
      () => process.exit(0),
      (error: unknown) => {
        logger.error(`Error while stopping: ${(error as Error).message}`);
        process.exit(1);
      },
    );
  });
}
