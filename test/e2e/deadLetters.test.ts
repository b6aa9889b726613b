import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { projectRoot } from '../support/hostProcess.js';
import { RabbitTestClient, rabbitUrl } from '../support/rabbit.js';

const run = promisify(execFile);
const cli = (...args: string[]) =>
  run(join(projectRoot, 'node_modules/.bin/tsx'), [join(projectRoot, 'scripts/dead-letters.ts'), ...args], { cwd: projectRoot, env: { ...process.env, RABBITMQ_URL: rabbitUrl } });

describe('npm run dead-letters', () => {
  let rabbit: RabbitTestClient;
  beforeAll(async () => {
    rabbit = await RabbitTestClient.connect();
  });
  afterAll(() => rabbit?.close());

  it('when an operator lists and replays a dead letter, then it shows the reason and leaves the dead-letter queue for its own queue', async () => {
    const messageId = randomUUID();
    rabbit.channel.sendToQueue('order-created.dlq', Buffer.from('{"orderId":"x"}'), {
      messageId,
      type: 'OrderCreated',
      persistent: true,
      headers: { 'x-dead-letter-reason': 'invalid OrderCreated: orderId: Invalid UUID', 'x-ms-rabbitmq-requeuecount': 4 },
    });

    const listed = (await cli('list', 'order-created')).stdout.split('\n').filter(Boolean).map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(listed.find((entry) => entry.messageId === messageId)).toMatchObject({ queue: 'order-created.dlq', reason: 'invalid OrderCreated: orderId: Invalid UUID', body: '{"orderId":"x"}' });

    expect((await cli('replay', 'order-created', '--id', messageId)).stdout).toContain(`replayed ${messageId} to order-created`);
    // A running consumer may take the replayed copy at once and, the payload being invalid, dead-letter
    // it again: then it is back with a fresh retry count. Either way the entry with 4 attempts is gone.
    const after = (await cli('list', 'order-created')).stdout.split('\n').filter(Boolean).map((line) => JSON.parse(line) as Record<string, unknown>);
    const entry = after.find((e) => e.messageId === messageId);
    expect(entry === undefined || entry.attempts === null).toBe(true);
  });
});
