import amqp from 'amqplib';
import { migrateUp } from '../../src/adapters/postgres/migrate.js';
import { declareTopology, replaceOutdatedQueues } from '../../src/adapters/rabbitmq/topology.js';

/** Integration suites run against real services: apply migrations and declare the topology first, like `npm run setup`. */
export default async function setup(): Promise<void> {
  await migrateUp(process.env.POSTGRES_URL ?? 'postgres://postgres:postgres@127.0.0.1:5432/ecommerce');
  const connection = await amqp.connect(process.env.RABBITMQ_URL ?? 'amqp://guest:guest@127.0.0.1:5672');
  try {
    await replaceOutdatedQueues(connection);
    await declareTopology(await connection.createChannel());
  } finally {
    await connection.close();
  }
}
