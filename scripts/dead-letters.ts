/*
 * npm run dead-letters -- list [queue]            shows dead-lettered messages (left in place)
 * npm run dead-letters -- replay <queue> [--id ID] moves them back to their queue for another try
 *
 * <queue> is a consumer queue (cart-checked-out, order-created, payment-processed); its dead
 * letters are in <queue>.dlq. Replay resets the extension's retry counter. Uses RABBITMQ_URL.
 */
import { parseArgs } from 'node:util';
import amqp, { type GetMessage } from 'amqplib';
import { deadLetterQueueOf, queues, type QueueName } from '../src/adapters/rabbitmq/topology.js';
import { loadLocalSettings } from './localSettings.js';

const { positionals, values } = parseArgs({ allowPositionals: true, options: { id: { type: 'string' }, max: { type: 'string', default: '1000' } } });
const [command, queueArg] = positionals;
const allQueues = Object.values(queues) as QueueName[];
if ((command !== 'list' && command !== 'replay') || (queueArg !== undefined && !allQueues.includes(queueArg as QueueName)) || (command === 'replay' && !queueArg)) {
  console.error(`Usage: npm run dead-letters -- list [queue] | replay <queue> [--id messageId]\nqueues: ${allQueues.join(', ')}`);
  process.exit(2);
}

loadLocalSettings();
const connection = await amqp.connect(process.env.RABBITMQ_URL!);
const channel = await connection.createConfirmChannel();
const max = Number(values.max);

/** Takes up to `max` messages without acking them: they stay dead-lettered unless settled. */
async function drain(queue: string): Promise<GetMessage[]> {
  const messages: GetMessage[] = [];
  for (let message = await channel.get(queue); message && messages.length < max; message = await channel.get(queue)) messages.push(message);
  return messages;
}

for (const queue of queueArg ? [queueArg as QueueName] : allQueues) {
  const dlq = deadLetterQueueOf(queue);
  const messages = await drain(dlq);
  for (const message of messages) {
    const { messageId, type, headers = {} } = message.properties;
    const chosen = command === 'replay' && (values.id === undefined || values.id === messageId);
    if (command === 'list') {
      console.log(JSON.stringify({ queue: dlq, messageId, type, reason: headers['x-dead-letter-reason'] ?? headers['x-first-death-reason'] ?? null, attempts: headers['x-ms-rabbitmq-requeuecount'] ?? null, body: message.content.toString('utf8').slice(0, 2000) }));
      continue;
    }
    if (!chosen) continue;
    const { 'x-ms-rabbitmq-requeuecount': _attempts, 'x-dead-letter-reason': _reason, 'x-death': _death, ...rest } = headers;
    channel.sendToQueue(queue, message.content, { ...message.properties, headers: { ...rest, 'x-replayed-from': dlq } });
    await channel.waitForConfirms();
    channel.ack(message);
    console.log(`replayed ${messageId ?? '(no id)'} to ${queue}`);
  }
  // What was only looked at (or not chosen) goes back to the dead-letter queue.
  channel.nackAll(true);
  if (command === 'list' && messages.length === 0) console.log(`${dlq}: empty`);
}
await channel.close();
await connection.close();
