import { migrateUp } from '../adapters/postgres/migrate.js';
import { logger } from '../adapters/telemetry/logger.js';
import type { Services } from './container.js';

/**
 * At worker start: apply pending migrations (node-pg-migrate holds an advisory lock, so instances
 * starting together apply each once) and declare the broker topology (the publisher declares it on
 * connect). In Azure the database and the broker are reachable only from inside the network, so the
 * app itself is where this can run. A failure is logged and start-up goes on: the dependency may be
 * back in a moment, health reports it meanwhile, and `npm run setup` does the same by hand.
 */
export async function prepareDependencies(services: Pick<Services, 'settings' | 'publisher'>): Promise<void> {
  const [migrations, topology] = await Promise.allSettled([migrateUp(services.settings.POSTGRES_URL), services.publisher.check()]);
  if (migrations.status === 'fulfilled' && migrations.value.length > 0) logger.info('migrations applied at start', { migrations: migrations.value });
  if (migrations.status === 'rejected') logger.error('could not apply migrations at start', { error: migrations.reason });
  if (topology.status === 'rejected') logger.error('could not declare the broker topology at start', { error: topology.reason });
}
