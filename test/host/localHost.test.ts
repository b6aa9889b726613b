import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { connect } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { projectRoot, startHostProcess, type HostProcess } from '../support/hostProcess.js';
import { RabbitTestClient, rabbitUrl } from '../support/rabbit.js';

const appRoot = join(projectRoot, 'test/fixtures/host-app');
const queue = `host-fixture-${randomUUID()}`;
const results = `${queue}.results`;

describe('local Functions host with a fixture app', () => {
  let host: HostProcess;
  let rabbit: RabbitTestClient;

  beforeAll(async () => {
    rabbit = await RabbitTestClient.connect();
    // The host, like the RabbitMQ extension, never declares queues: the test does, with a DLX.
    await rabbit.channel.assertExchange(`${queue}.dlx`, 'fanout', { autoDelete: true });
    await rabbit.channel.assertQueue(`${queue}.dlq`, { autoDelete: false, expires: 120_000 });
    await rabbit.channel.bindQueue(`${queue}.dlq`, `${queue}.dlx`, '');
    await rabbit.channel.assertQueue(queue, { expires: 120_000, arguments: { 'x-dead-letter-exchange': `${queue}.dlx` } });
    await rabbit.channel.assertQueue(results, { expires: 120_000 });
    host = await startHostProcess({
      appRoot,
      env: { FIXTURE_RABBITMQ_URL: rabbitUrl, FIXTURE_QUEUE: queue, FIXTURE_RESULTS_QUEUE: results },
    });
  });

  afterAll(async () => {
    await host?.stop();
    await rabbit?.close();
  });

  const get = (path: string, init?: RequestInit) => fetch(`${host.baseUrl}${path}`, init);

  it('when it starts, then it prints every function with its methods and URL like func does', () => {
    expect(host.output()).toContain(`hello: [GET] ${host.baseUrl}/fx/hello/{name:alpha}`);
    expect(host.output()).toContain(`echo: [POST,PUT] ${host.baseUrl}/fx/echo`);
    expect(host.output()).toContain('consume: rabbitMQTrigger');
    expect(host.output()).toContain('tick: timerTrigger');
  });

  it('when a route has parameters and constraints, then the matching function gets them', async () => {
    const response = await get('/fx/hello/World?q=1', { headers: { 'user-agent': 'vitest' } });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^application\/json/);
    expect(await response.json()).toEqual({ hello: 'World', query: '1', fn: 'hello', ua: 'vitest' });
    expect(await (await get('/fx/HELLO/42')).json()).toEqual({ id: 42 });
  });

  it('when a value breaks every constraint, then the host answers 404', async () => {
    expect((await get('/fx/hello/abc123')).status).toBe(404);
    expect((await get('/api/hello/World')).status).toBe(404);
    expect((await get('/fx/unknown')).status).toBe(404);
  });

  it('when the method is not one the function accepts, then the host answers 404 as its router does', async () => {
    expect((await get('/fx/echo')).status).toBe(404);
  });

  it('when a function returns status, headers, cookies and a JSON body, then they are all sent', async () => {
    const response = await get('/fx/echo', { method: 'POST', body: JSON.stringify({ a: 1 }), headers: { 'content-type': 'application/json' } });
    expect(response.status).toBe(201);
    expect(response.headers.get('x-echo')).toBe('yes');
    expect(response.headers.get('set-cookie')).toBe('session=abc; Path=/; HttpOnly');
    expect(await response.json()).toEqual({ method: 'POST', body: { a: 1 } });
  });

  it('when an optional parameter is absent, then the route still matches', async () => {
    expect(await (await get('/fx/items')).text()).toBe('item:none');
    expect(await (await get('/fx/items/7')).text()).toBe('item:7');
  });

  it('when a function throws, then the host answers 500 and keeps serving', async () => {
    expect((await get('/fx/boom')).status).toBe(500);
    expect((await get('/fx/hello/Again')).status).toBe(200);
  });

  it('when a function returns nothing, then the host answers 200 with an empty body', async () => {
    const response = await get('/fx/nothing', { method: 'DELETE' });
    expect(response.status).toBe(200);
    expect(await response.text()).toBe('');
  });

  it('when a body is a little over the host limit (5 MiB + 64 KiB, room for an image upload), then it answers a 413 problem without invoking the function', async () => {
    const response = await get('/fx/echo', { method: 'POST', body: Buffer.alloc(5632 * 1024, 'a') });
    expect(response.status).toBe(413);
    expect(response.headers.get('content-type')).toBe('application/problem+json');
    expect(await response.json()).toMatchObject({ status: 413, code: 'payload_too_large' });
  });

  it('when a client keeps sending a body far over the limit, then the host stops reading and closes the connection', async () => {
    const declared = 101 * 1024 * 1024;
    const socket = connect(Number(new URL(host.baseUrl).port), '127.0.0.1');
    socket.on('error', () => undefined); // the host resets the connection
    await once(socket, 'connect');
    const closed = new Promise((resolve) => socket.once('close', resolve));
    socket.write(`POST /fx/echo HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/octet-stream\r\nContent-Length: ${declared}\r\n\r\n`);
    const chunk = Buffer.alloc(64 * 1024, 'a');
    let written = 0;
    let isClosed = false;
    void closed.then(() => (isClosed = true));
    while (!isClosed && written < declared) {
      written += chunk.length;
      if (!socket.write(chunk)) await Promise.race([new Promise((resolve) => socket.once('drain', resolve)), closed]);
    }
    await closed;
    // What the host read is at most the limit plus its 1 MiB linger; the rest sat in socket buffers.
    expect(written).toBeLessThan(24 * 1024 * 1024);
  });

  it('when the app registers hooks, then appStart ran before the first request', async () => {
    expect(await (await get('/fx/started')).json()).toEqual({ started: true });
  });

  it('when a timer is due, then its function runs with the timer input', async () => {
    await expect.poll(async () => ((await (await get('/fx/ticks')).json()) as { ticks: number }).ticks, { timeout: 5_000 }).toBeGreaterThan(0);
  });

  it('when a message arrives, then the function gets its body and properties and it is acked', async () => {
    const traceparent = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
    rabbit.channel.sendToQueue(queue, Buffer.from(JSON.stringify({ hello: 'queue' })), { messageId: 'm-1', persistent: true, headers: { traceparent } });
    const [result] = await rabbit.take(results, 1);
    // String headers arrive base64-encoded, as the .NET client's byte[] values do.
    expect(JSON.parse(result!.content.toString())).toEqual({ body: { hello: 'queue' }, trace: traceparent, messageId: 'm-1', requeueCount: 0 });
    await expect.poll(async () => (await rabbit.channel.checkQueue(queue)).messageCount, { timeout: 5_000 }).toBe(0);
  });

  it('when the function keeps failing, then the message is retried with the requeue count and dead-lettered after 5 attempts', async () => {
    rabbit.channel.sendToQueue(queue, Buffer.from(JSON.stringify({ fail: true })), { messageId: 'poison', persistent: true });
    const attempts = await rabbit.take(results, 5);
    expect(attempts.map((m) => JSON.parse(m.content.toString()).requeueCount)).toEqual([0, 1, 2, 3, 4]);
    const [dead] = await rabbit.take(`${queue}.dlq`, 1);
    expect(dead!.properties.messageId).toBe('poison');
    expect(dead!.properties.headers?.['x-ms-rabbitmq-requeuecount']).toBe(4);
  });

  it('when an invocation outlasts host.json functionTimeout, then it counts as failed: the message is retried with the requeue count, as the extension does', async () => {
    // The fixture's functionTimeout is 00:00:05; only the first attempt is slow.
    rabbit.channel.sendToQueue(queue, Buffer.from(JSON.stringify({ slowFirstAttemptMs: 6_000 })), { messageId: 'slow', persistent: true });
    const attempts = await rabbit.take(results, 2, 20_000);
    expect(attempts.map((m) => JSON.parse(m.content.toString()).requeueCount)).toEqual([0, 1]);
    expect(host.output()).toContain("Executed 'consume' (Failed): Timeout value of 00:00:05 was exceeded by function: Functions.consume");
    await expect.poll(async () => (await rabbit.channel.checkQueue(queue)).messageCount, { timeout: 5_000 }).toBe(0);
  });

  it('when stopped with SIGTERM, then in-flight invocations finish before it exits', async () => {
    rabbit.channel.sendToQueue(queue, Buffer.from(JSON.stringify({ slowMs: 1500 })), { persistent: true });
    await rabbit.take(results, 1);
    const code = await host.stop('SIGTERM');
    expect(code).toBe(0);
    expect(host.output()).toContain('draining');
    // The slow message was acked during the drain, not left for redelivery.
    expect((await rabbit.channel.checkQueue(queue)).messageCount).toBe(0);
  });
});
