/*
 * npm run setup [-- --seed]: applies the SQL migrations and declares the broker topology; with
 * --seed, also loads the sample catalog: categories, products and their pictures (drawn by
 * scripts/sampleImages.ts, uploaded to PRODUCT_IMAGES_STORAGE, Azurite by default). Idempotent. The RabbitMQ trigger never declares queues,
 * so this runs before `func start` (prestart) and before the local host (npm run dev).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import amqp from 'amqplib';
import pg from 'pg';
import { migrateUp } from '../src/adapters/postgres/migrate.js';
import { declareTopology, replaceOutdatedQueues } from '../src/adapters/rabbitmq/topology.js';
import { loadLocalSettings, projectRoot } from './localSettings.js';
import { seedSampleImages } from './sampleImages.js';

const { values } = parseArgs({ options: { seed: { type: 'boolean', default: false } } });

function required(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`Setting ${name} is missing`);
  return value;
}

async function main(): Promise<void> {
  loadLocalSettings();
  // Migrations hold a session advisory lock: past PgBouncer when a direct URL is given.
  const postgresUrl = process.env.POSTGRES_DIRECT_URL || required('POSTGRES_URL');
  const rabbitMqUrl = required('RABBITMQ_URL');

  const applied = await migrateUp(postgresUrl);
  console.error(applied.length ? `[setup] applied migrations: ${applied.join(', ')}` : '[setup] database is up to date');

  if (values.seed) {
    const client = new pg.Client({ connectionString: postgresUrl });
    await client.connect();
    try {
      // A multi-statement query answers one result per statement: categories, then products.
      const results = [await client.query(readFileSync(join(projectRoot, 'seed/catalog.sql'), 'utf8'))].flat();
      console.error(`[setup] seeded ${results[0]?.rowCount ?? 0} new categories and ${results[1]?.rowCount ?? 0} new sample products`);
    } finally {
      await client.end();
    }
    const storage = process.env.PRODUCT_IMAGES_STORAGE || 'UseDevelopmentStorage=true';
    const container = process.env.PRODUCT_IMAGES_CONTAINER || 'product-images';
    // Pictures are a nicety: without blob storage the catalog still works, so this only warns.
    await seedSampleImages({ postgresUrl, storage, container }).then(
      (count) => console.error(`[setup] uploaded pictures for ${count} sample products to container ${container}`),
      (error: unknown) => console.error(`[setup] warning: sample pictures not uploaded (${(error as Error).message}); is Azurite running (npm run services)?`),
    );
  }

  const connection = await amqp.connect(rabbitMqUrl);
  try {
    const replaced = await replaceOutdatedQueues(connection);
    if (replaced.length > 0) console.error(`[setup] replaced empty queues declared by an earlier release: ${replaced.join(', ')}`);
    await declareTopology(await connection.createChannel());
    console.error('[setup] broker topology declared');
  } finally {
    await connection.close();
  }
}

main().catch((error: unknown) => {
  console.error(`[setup] failed: ${(error as Error).message}`);
  process.exit(1);
});
