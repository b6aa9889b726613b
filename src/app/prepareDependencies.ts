import { migrateUp } from '../adapters/postgres/migrate.js';
import type { PostgresPassword } from '../adapters/postgres/pool.js';
import { logger } from '../adapters/telemetry/logger.js';
import type { Services } from './container.js';

/*
 * `appStart` runs inside the worker's init (WorkerInitRequest, or FunctionEnvironmentReloadRequest
 * when an Azure placeholder specializes), and the host gives either 2 minutes (the Node worker's
 * worker.config.json: `processOptions.initializationTimeout` / `environmentReloadTimeout`, "00:02:00";
 * azure-functions-host `WorkerProcessCountOptions`, 89dc438) before it fails the worker and starts
 * another, which would run into the same wait. Start-up waits for the dependencies half of that at
 * most, then serves on while they finish.
 */
export const appStartDeadlineMs = 60_000;

/**
 * At worker start: apply pending migrations over the direct session connection (node-pg-migrate holds
 * an advisory lock, so instances starting together apply each once, the later ones waiting) and
 * declare the broker topology (the publisher declares it on connect). In Azure the database and the
 * broker are reachable only from inside the network, so the app itself is where this can run. A failure is logged and start-up goes on: the dependency may be
 * back in a moment, health reports it meanwhile, and `npm run setup` does the same by hand. So does
 * a preparation that outlasts the deadline: it goes on in the background and logs its outcome.
 */
export async function prepareDependencies(
  services: Pick<Services, 'settings' | 'publisher'> & Partial<Pick<Services, 'postgresPassword'>>,
  options: { deadlineMs?: number; migrate?: (postgresUrl: string, password?: PostgresPassword) => Promise<string[]> } = {},
): Promise<void> {
  const { deadlineMs = appStartDeadlineMs, migrate = migrateUp } = options;
  const prepared = Promise.allSettled([migrate(services.settings.POSTGRES_DIRECT_URL ?? services.settings.POSTGRES_URL, services.postgresPassword), services.publisher.check()]).then(([migrations, topology]) => {
    if (migrations.status === 'fulfilled' && migrations.value.length > 0) logger.info('migrations applied at start', { migrations: migrations.value });
    if (migrations.status === 'rejected') logger.error('could not apply migrations at start', { error: migrations.reason });
    if (topology.status === 'rejected') logger.error('could not declare the broker topology at start', { error: topology.reason });
  });
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<'late'>((resolve) => {
    timer = setTimeout(() => resolve('late'), deadlineMs);
    timer.unref();
  });
  const outcome = await Promise.race([prepared, deadline]);
  clearTimeout(timer);
  if (outcome === 'late') logger.error('dependencies not prepared within the start-up deadline; serving on while they finish', { deadlineMs });
}
