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
const jsonLines = (stdout: string) => stdout.split('\n').filter(Boolean).map((line) => JSON.parse(line) as Record<string, unknown>);

/*
 * A private queue and dead-letter queue per test: nothing else consumes or lists them, so what the
 * command prints and moves depends only on the test (the shared consumer queues may have a running
 * host consuming them, or dead letters of other suites).
 */
describe('npm run dead-letters', () => {
  let rabbit: RabbitTestClient;
  let queue: string;

  beforeAll(async () => {
    rabbit = await RabbitTestClient.connect();
  });
  afterAll(() => rabbit?.close());

  const declarePrivateQueues = async () => {
    queue = `dead-letters-test-${randomUUID()}`;
    for (const name of [queue, `${queue}.dlq`]) await rabbit.channel.assertQueue(name, { durable: false, expires: 120_000 });
  };

  /** Published on a confirm channel and confirmed, so the command can only run after the broker holds it. */
  const deadLetter = async (messageId: string) => {
    const channel = await rabbit.connection.createConfirmChannel();
    channel.sendToQueue(`${queue}.dlq`, Buffer.from('{"orderId":"x"}'), {
      messageId,
      type: 'OrderCreated',
      persistent: true,
      headers: { 'x-dead-letter-reason': 'invalid OrderCreated: orderId: Invalid UUID', 'x-ms-rabbitmq-requeuecount': 4 },
    });
    await channel.waitForConfirms();
    await channel.close();
  };

  it('when the dead-letter queue is empty, then list prints nothing on stdout and the count on stderr', async () => {
    await declarePrivateQueues();
    const { stdout, stderr } = await cli('list', queue);
    expect(stdout).toBe('');
    expect(stderr).toContain(`${queue}.dlq: 0 dead letter(s)`);
  });

  it('when an operator lists and replays a dead letter, then list prints it as a JSON line and replay moves it to its queue without the retry count', async () => {
    await declarePrivateQueues();
    const messageId = randomUUID();
    await deadLetter(messageId);

    const listed = await cli('list', queue);
    expect(jsonLines(listed.stdout)).toEqual([
      { queue: `${queue}.dlq`, messageId, type: 'OrderCreated', reason: 'invalid OrderCreated: orderId: Invalid UUID', attempts: 4, body: '{"orderId":"x"}' },
    ]);
    expect((await rabbit.channel.checkQueue(`${queue}.dlq`)).messageCount).toBe(1);

    const replayed = await cli('replay', queue, '--id', messageId);
    expect(jsonLines(replayed.stdout)).toEqual([{ replayed: messageId, from: `${queue}.dlq`, to: queue }]);
    expect((await rabbit.channel.checkQueue(`${queue}.dlq`)).messageCount).toBe(0);
    const [back] = await rabbit.take(queue, 1);
    expect(back!.properties).toMatchObject({ messageId, type: 'OrderCreated' });
    expect(back!.properties.headers).toEqual({ 'x-replayed-from': `${queue}.dlq` });
    expect((await cli('list', queue)).stdout).toBe('');
  });

  it('when replay names an id that is not there, then nothing moves and the dead letter stays', async () => {
    await declarePrivateQueues();
    await deadLetter(randomUUID());
    const { stdout, stderr } = await cli('replay', queue, '--id', randomUUID());
    expect(stdout).toBe('');
    expect(stderr).toContain('0 of 1 replayed');
    expect((await rabbit.channel.checkQueue(`${queue}.dlq`)).messageCount).toBe(1);
  });

  it('when the queue to replay into does not exist, then the command fails and the dead letter stays (a send to no queue would be lost)', async () => {
    await declarePrivateQueues();
    await deadLetter(randomUUID());
    await rabbit.channel.deleteQueue(queue);
    await expect(cli('replay', queue)).rejects.toMatchObject({ code: 2, stdout: '', stderr: expect.stringContaining(`${queue} does not exist`) });
    expect((await rabbit.channel.checkQueue(`${queue}.dlq`)).messageCount).toBe(1);
  });
});
