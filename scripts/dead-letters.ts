/*
 * npm run dead-letters -- list [queue]            dead-lettered messages as JSON lines (left in place)
 * npm run dead-letters -- replay <queue> [--id ID] moves them back to their queue for another try
 *
 * <queue> is a consumer queue (cart-checked-out, order-created, payment-processed by default; any
 * queue with a `<queue>.dlq` is accepted); its dead letters are in <queue>.dlq. Replay resets the
 * extension's retry counter. Uses RABBITMQ_URL.
 *
 * stdout carries only JSON lines, one per message listed or replayed (nothing for an empty queue),
 * so it can be piped to jq; counts and errors for people go to stderr.
 */
import { parseArgs } from 'node:util';
import amqp, { type GetMessage } from 'amqplib';
import { queues } from '../src/adapters/rabbitmq/topology.js';
import { loadLocalSettings } from './localSettings.js';

const usage = `Usage: npm run dead-letters -- list [queue] | replay <queue> [--id messageId] [--max N]\nqueues: ${Object.values(queues).join(', ')}`;
const { positionals, values } = parseArgs({ allowPositionals: true, options: { id: { type: 'string' }, max: { type: 'string', default: '1000' } } });
const [command, queueArg] = positionals;
const max = Number(values.max);
if ((command !== 'list' && command !== 'replay') || (command === 'replay' && !queueArg) || !Number.isInteger(max) || max < 1) {
  console.error(usage);
  process.exit(2);
}

loadLocalSettings();
const connection = await amqp.connect(process.env.RABBITMQ_URL!);
const channel = await connection.createConfirmChannel();
// The topology's naming (deadLetterQueueOf): the dead letters of <queue> are in <queue>.dlq.
const deadLetterQueue = (queue: string) => `${queue}.dlq`;

/** Whether a queue exists; asked on a channel of its own, which the broker closes when it does not. */
async function queueExists(queue: string): Promise<boolean> {
  const probe = await connection.createChannel();
  probe.on('error', () => undefined);
  try {
    await probe.checkQueue(queue);
    await probe.close();
    return true;
  } catch {
    return false;
  }
}

/** Takes up to `max` messages without acking them: they stay dead-lettered unless settled. */
async function take(queue: string): Promise<GetMessage[]> {
  const messages: GetMessage[] = [];
  while (messages.length < max) {
    const message = await channel.get(queue);
    if (!message) break;
    messages.push(message);
  }
  return messages;
}

const targets = queueArg ? [queueArg] : Object.values(queues);
for (const queue of targets) {
  const dlq = deadLetterQueue(queue);
  if (!(await queueExists(dlq))) {
    console.error(`${dlq} does not exist (is ${queue} a queue with dead letters? run npm run setup)`);
    process.exitCode = 2;
    continue;
  }
  // A message sent to a queue that does not exist is dropped, yet confirmed: never ack a dead letter for that.
  if (command === 'replay' && !(await queueExists(queue))) {
    console.error(`${queue} does not exist: nothing replayed`);
    process.exitCode = 2;
    continue;
  }
  const messages = await take(dlq);
  let replayed = 0;
  for (const message of messages) {
    const { messageId, type, headers = {} } = message.properties;
    if (command === 'list') {
      const reason = headers['x-dead-letter-reason'] ?? headers['x-first-death-reason'] ?? null;
      console.log(JSON.stringify({ queue: dlq, messageId, type, reason, attempts: headers['x-ms-rabbitmq-requeuecount'] ?? null, body: message.content.toString('utf8').slice(0, 2000) }));
      continue;
    }
    if (values.id !== undefined && values.id !== messageId) continue;
    const { 'x-ms-rabbitmq-requeuecount': _attempts, 'x-dead-letter-reason': _reason, 'x-death': _death, ...rest } = headers;
    channel.sendToQueue(queue, message.content, { ...message.properties, headers: { ...rest, 'x-replayed-from': dlq } });
    await channel.waitForConfirms();
    channel.ack(message);
    replayed++;
    console.log(JSON.stringify({ replayed: messageId ?? null, from: dlq, to: queue }));
  }
  // What was only looked at (or not chosen) goes back to the dead-letter queue.
  channel.nackAll(true);
  const more = messages.length === max ? ` (the first ${max}; --max shows more)` : '';
  console.error(command === 'list' ? `${dlq}: ${messages.length} dead letter(s)${more}` : `${dlq}: ${replayed} of ${messages.length} replayed to ${queue}${more}`);
}
await channel.close();
await connection.close();
