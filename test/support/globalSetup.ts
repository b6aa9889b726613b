import amqp from 'amqplib';
import pg from 'pg';
import { migrateUp } from '../../src/adapters/postgres/migrate.js';
import { declareTopology, replaceOutdatedQueues } from '../../src/adapters/rabbitmq/topology.js';

/** Integration suites run against real services: apply migrations and declare the topology first, like `npm run setup`. */
export default async function setup(): Promise<void> {
  const pooled = process.env.POSTGRES_URL ?? 'postgres://postgres:postgres@127.0.0.1:5432/ecommerce';
  await migrateUp(process.env.POSTGRES_DIRECT_URL ?? pooled);
  // vitest.config.ts moved POSTGRES_URL to the local PgBouncer: say so plainly when it is not running.
  const probe = new pg.Client({ connectionString: pooled, connectionTimeoutMillis: 3_000 });
  try {
    await probe.connect();
    await probe.query('SELECT 1');
  } catch (error) {
    throw new Error(`Postgres through ${new URL(pooled).host} does not answer (${(error as Error).message}): bash scripts/services.sh starts PgBouncer`);
  } finally {
    await probe.end().catch(() => undefined);
  }
  const connection = await amqp.connect(process.env.RABBITMQ_URL ?? 'amqp://guest:guest@127.0.0.1:5672');
  try {
    await replaceOutdatedQueues(connection);
    await declareTopology(await connection.createChannel());
  } finally {
    await connection.close();
  }
}
