import { randomUUID } from 'node:crypto';
import amqp from 'amqplib';
import { declareTopology } from '../../src/adapters/rabbitmq/topology.js';
import { rabbitUrl } from './rabbit.js';

const managementUrl = process.env.RABBITMQ_MANAGEMENT_URL ?? 'http://127.0.0.1:15672';
const guest = `Basic ${Buffer.from('guest:guest').toString('base64')}`;

async function management(method: string, path: string, body?: unknown): Promise<void> {
  const response = await fetch(`${managementUrl}/api${path}`, {
    method,
    headers: { authorization: guest, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (!response.ok) throw new Error(`RabbitMQ management ${method} ${path}: ${response.status} ${await response.text()}`);
}

export interface PrivateVhost {
  /** The AMQP URL of the vhost, with the app's topology declared. */
  url: string;
  delete(): Promise<void>;
}

/**
 * A vhost of the shared broker with the app's topology, owned by one suite: what it does to its
 * queues (deleting one, counting consumers) cannot disturb the hosts of other suites.
 */
export async function createPrivateVhost(): Promise<PrivateVhost> {
  const name = `shop-test-${randomUUID().slice(0, 8)}`;
  await management('PUT', `/vhosts/${name}`, {});
  await management('PUT', `/permissions/${name}/guest`, { configure: '.*', write: '.*', read: '.*' });
  // Replaces any vhost the shared URL names (a developer may run the suites in a vhost of their own).
  const vhostUrl = new URL(rabbitUrl);
  vhostUrl.pathname = `/${name}`;
  const url = vhostUrl.toString();
  const connection = await amqp.connect(url);
  await declareTopology(await connection.createChannel());
  await connection.close();
  return { url, delete: () => management('DELETE', `/vhosts/${name}`) };
}
