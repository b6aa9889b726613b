import { request as httpRequest } from 'node:http';
import { connect, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { uuidv7 } from '../../src/domain/ids.js';
import { aProductBody } from '../support/builders.js';
import { startShop, type Shop } from '../support/shop.js';

let shop: Shop;
let writer: string;
let reader: string;
/** Every error body seen, checked at the end for leaks. */
const errorBodies: string[] = [];

beforeAll(async () => {
  shop = await startShop();
  [writer, reader] = await Promise.all([shop.token({ roles: ['Products.Write'] }), shop.token()]);
});

afterAll(async () => {
  await shop?.stop();
});

async function expectProblem(response: Response, status: number): Promise<{ detail: string; code?: string }> {
  const text = await response.text();
  errorBodies.push(text);
  expect(response.status, text).toBe(status);
  expect(response.headers.get('content-type')).toMatch(/^application\/problem\+json/);
  const problem = JSON.parse(text) as { type: string; title: string; status: number; detail: string; code?: string };
  expect(problem).toMatchObject({ type: expect.any(String), title: expect.any(String), status, detail: expect.any(String) });
  return problem;
}

const port = () => Number(new URL(shop.api).port);

/** A raw HTTP request whose body is streamed without Content-Length (chunked). */
function chunkedPost(path: string, token: string, chunks: Buffer[]): Promise<{ status: number; contentType: string; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      { host: '127.0.0.1', port: port(), path: `/api${path}`, method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' } },
      (res) => {
        let body = '';
        res.on('data', (chunk: Buffer) => (body += chunk.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, contentType: String(res.headers['content-type'] ?? ''), body }));
      },
    );
    req.on('error', reject);
    for (const chunk of chunks) req.write(chunk);
    req.end();
  });
}

describe('content type and size', () => {
  it.each(['text/plain', 'application/x-www-form-urlencoded', 'application/xml', 'multipart/form-data; boundary=x'])(
    'when a JSON body is sent as %s, then it is a 415',
    async (contentType) => {
      const problem = await expectProblem(
        await shop.call('/products', { method: 'POST', token: writer, body: aProductBody(), headers: { 'content-type': contentType } }),
        415,
      );
      expect(problem.code).toBe('unsupported_media_type');
    },
  );

  it('when the content type has parameters or a +json suffix, then the body is accepted', async () => {
    for (const contentType of ['application/json; charset=utf-8', 'application/merge-patch+json']) {
      const response = await shop.call('/products', { method: 'POST', token: writer, body: aProductBody(), headers: { 'content-type': contentType } });
      expect(response.status).toBe(201);
    }
  });

  it('when a query parameter is repeated, then its values arrive joined with a comma, as the real host passes them: limit=1&limit=2 is 400', async () => {
    const response = await shop.call('/products?limit=1&limit=2', { token: reader });
    const problem = (await expectProblem(response, 400)) as { errors?: unknown };
    expect(problem.errors).toEqual([expect.objectContaining({ path: 'query.limit' })]);
    expect((await shop.call('/products?limit=1', { token: reader })).status).toBe(200);
  });

  it('when a 2 MiB body is sent with Content-Length, then it is a 413', async () => {
    const body = JSON.stringify(aProductBody({ description: 'x'.repeat(2 * 1024 * 1024) }));
    await expectProblem(await shop.call('/products', { method: 'POST', token: writer, body }), 413);
  });

  it('when a 2 MiB body is streamed chunked, then it is a 413 too (411 under the real host, which drops a chunked body unread)', async () => {
    const chunk = Buffer.alloc(64 * 1024, 'x');
    const response = await chunkedPost('/cart/items', reader, Array<Buffer>(32).fill(chunk));
    errorBodies.push(response.body);
    expect(response.status).toBe(shop.host.command ? 411 : 413);
    expect(response.contentType).toMatch(/^application\/problem\+json/);
  });

  it('when a small JSON body is streamed chunked, then it is judged on its content, or 411 under the real host, never "a body is required"', async () => {
    const response = await chunkedPost('/cart/items', reader, [Buffer.from('{"productId":'), Buffer.from('42}')]);
    errorBodies.push(response.body);
    if (shop.host.command) expect(JSON.parse(response.body)).toMatchObject({ status: 411, code: 'length_required' });
    else expect(JSON.parse(response.body)).toMatchObject({ status: 400, code: 'invalid_request', detail: expect.stringContaining('productId') });
  });

  it('when a body of just under 1 MiB is sent, then it is judged on its content (400), not its size', async () => {
    const body = JSON.stringify(aProductBody({ description: 'x'.repeat(1024 * 1024 - 200) }));
    expect(Buffer.byteLength(body)).toBeLessThan(1024 * 1024);
    await expectProblem(await shop.call('/products', { method: 'POST', token: writer, body }), 400);
  });

  it.each(['{', '{"name":', 'nul', '{"name":"x",}', "{'name':'x'}", '\u0000', '{"a":1}{"b":2}'])('when the body is malformed JSON %j, then it is a 400', async (body) => {
    await expectProblem(await shop.call('/products', { method: 'POST', token: writer, body }), 400);
  });

  it('when a required body is empty, then it is a 400', async () => {
    await expectProblem(await shop.call('/cart/items', { method: 'POST', token: reader, headers: { 'content-type': 'application/json' } }), 400);
  });

  it('when a body is invalid UTF-8, then it is a 4xx', async () => {
    const response = await fetch(`${shop.api}/cart/items`, {
      method: 'POST',
      headers: { authorization: `Bearer ${reader}`, 'content-type': 'application/json' },
      body: Buffer.from([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x3a, 0x31, 0x7d]),
    });
    expect(response.status).toBeGreaterThanOrEqual(400);
    expect(response.status).toBeLessThan(500);
    errorBodies.push(await response.text());
  });
});

describe('routing', () => {
  it.each(['/nope', '/products/a/b/c', '/cart/items/x/y', '/%E0%A4%A', '/products%2F..%2F..', '/..%2f..%2fetc%2fpasswd', '/openapi.json/x'])(
    'when the path %s is unknown, then it is a 404 problem',
    async (path) => {
      await expectProblem(await shop.call(path, { token: reader }), 404);
    },
  );

  it.each([
    ['PATCH', '/products', 'GET, POST'],
    ['DELETE', '/products', 'GET, POST'],
    ['POST', `/products/${uuidv7()}`, 'GET, PUT, DELETE'],
    ['PUT', '/cart', 'GET'],
    ['GET', '/cart/items', 'POST'],
    ['GET', '/cart/checkout', 'POST'],
    ['POST', '/health', 'GET'],
    ['DELETE', '/openapi.json', 'GET'],
  ])('when %s %s is asked for, then it is a 405 with Allow: %s', async (method, path, allow) => {
    const response = await shop.call(path, { method, token: reader });
    expect(response.headers.get('allow')?.split(/,\s*/).sort()).toEqual(allow.split(', ').sort());
    await expectProblem(response, 405);
  });
});

describe('hostile input', () => {
  it.each(['__proto__', 'constructor', 'prototype'])('when a body carries %s, then it is a 400 and nothing is polluted', async (key) => {
    const polluting = `{"${key}":{"isAdmin":true,"polluted":"yes","prototype":{"polluted":"yes"}}`;
    await expectProblem(await shop.call('/products', { method: 'POST', token: writer, body: `${polluting},"name":"x","price":1,"stock":1}` }), 400);
    await expectProblem(await shop.call('/cart/items', { method: 'POST', token: reader, body: `${polluting},"productId":"${uuidv7()}"}` }), 400);
    await expectProblem(await shop.call(`/cart/items/${uuidv7()}`, { method: 'PUT', token: reader, body: `${polluting},"quantity":1}` }), 400);
    // The worker still behaves: a plain object shows no inherited members, roles are still enforced.
    const created = await shop.call('/products', { method: 'POST', token: writer, body: aProductBody() });
    expect(Object.keys((await created.json()) as object).sort()).toEqual(['category', 'createdAt', 'description', 'id', 'images', 'name', 'price', 'stock', 'updatedAt', 'version']);
    await expectProblem(await shop.call('/products', { method: 'POST', token: reader, body: aProductBody() }), 403);
    const query = await shop.call(`/products?__proto__[polluted]=yes&constructor[prototype][polluted]=yes`, { token: reader });
    expect(query.status).toBeLessThan(500);
  });

  it.each(["Robert'); DROP TABLE products;--", "' OR '1'='1", '"; SELECT pg_sleep(10); --', '\\x00\\\\%_$1$$', '${jndi:ldap://x}', '<script>alert(1)</script>'])(
    'when a product is named %j, then it is stored and returned literally',
    async (name) => {
      const response = await shop.call('/products', { method: 'POST', token: writer, body: aProductBody({ name, description: name }) });
      expect(response.status).toBe(201);
      const { id } = (await response.json()) as { id: string };
      const fetched = (await (await shop.call(`/products/${id}`, { token: reader })).json()) as { name: string; description: string };
      expect(fetched).toMatchObject({ name, description: name });
    },
  );

  it.each(["1' OR '1'='1", "'; DROP TABLE products; --", '1;SELECT 1', '%27', '$1', "00000000-0000-0000-0000-000000000000' OR 1=1--"])(
    'when an id is %j, then it is a 404 on every route that takes one',
    async (raw) => {
      const id = encodeURIComponent(raw);
      await expectProblem(await shop.call(`/products/${id}`, { token: reader }), 404);
      await expectProblem(await shop.call(`/products/${id}`, { method: 'PUT', token: writer, body: aProductBody() }), 404);
      await expectProblem(await shop.call(`/products/${id}`, { method: 'DELETE', token: writer }), 404);
      await expectProblem(await shop.call(`/orders/${id}`, { token: reader }), 404);
      await expectProblem(await shop.call('/cart/items', { method: 'POST', token: reader, body: { productId: raw } }), 404);
      await expectProblem(await shop.call(`/cart/items/${id}`, { method: 'PUT', token: reader, body: { quantity: 1 } }), 404);
      expect((await shop.call(`/cart/items/${id}`, { method: 'DELETE', token: reader })).status).toBe(200);
    },
  );

  it.each(["limit=1;DROP TABLE products", "limit=1 OR 1=1", "cursor=' OR 1=1--", 'limit=', 'limit=Infinity', 'limit=%00', 'limit=1000000000000000000000'])('when the query is %s, then it is a 400', async (query) => {
    await expectProblem(await shop.call(`/products?${query}`, { token: reader }), 400);
  });

  it.each([
    ['an Idempotency-Key of 300 characters', { 'idempotency-key': 'k'.repeat(300) }],
    ['an Idempotency-Key with spaces', { 'idempotency-key': 'a b' }],
  ])('when checkout has %s, then it is a 400', async (_case, headers) => {
    await expectProblem(await shop.call('/cart/checkout', { method: 'POST', token: reader, headers }), 400);
  });

  it.each([
    ['Basic credentials', 'Basic dXNlcjpwYXNz'],
    ['a 9 KB bearer token', `Bearer ${'a'.repeat(9 * 1024)}.b.c`],
    ['an unsigned token', 'Bearer eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.'],
    ['a token with SQL in it', "Bearer ' OR 1=1--"],
  ])('when the Authorization header is %s, then it is a 401', async (_case, authorization) => {
    await expectProblem(await shop.call('/cart', { headers: { authorization } }), 401);
  });
});

describe('slow clients', () => {
  function openSocket(): Promise<Socket> {
    return new Promise((resolve, reject) => {
      const socket = connect(port(), '127.0.0.1', () => resolve(socket));
      socket.on('error', reject);
    });
  }

  it('when clients trickle a body or headers and stall, then other requests are still served promptly', async () => {
    const started = Date.now();
    const stalled: Socket[] = [];
    try {
      for (let i = 0; i < 20; i++) {
        const socket = await openSocket();
        socket.on('error', () => undefined);
        socket.write(
          `POST /api/products HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${writer}\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{"name":`,
        );
        stalled.push(socket);
        const headersOnly = await openSocket();
        headersOnly.on('error', () => undefined);
        headersOnly.write('GET /api/products HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ');
        stalled.push(headersOnly);
      }
      await new Promise((resolve) => setTimeout(resolve, 300));
      for (const socket of stalled.slice(0, 10)) socket.write('"a');

      const t0 = Date.now();
      const responses = await Promise.all(Array.from({ length: 20 }, () => shop.call('/products?limit=1', { token: reader })));
      expect(responses.every((response) => response.status === 200)).toBe(true);
      expect((await shop.call('/health')).status).toBe(200);
      expect(Date.now() - t0).toBeLessThan(5_000);
    } finally {
      for (const socket of stalled) socket.destroy();
    }
    // The server survives the abandoned requests.
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect((await shop.call('/products?limit=1', { token: reader })).status).toBe(200);
    expect(shop.host.child.exitCode).toBeNull();
    expect(Date.now() - started).toBeLessThan(20_000);
  });
});

describe('what responses never contain', () => {
  it('when errors were answered, then none shows a stack, a token or a connection string', async () => {
    // Also provoke the generic paths once more.
    for (const response of [
      await shop.call('/products', { method: 'POST', token: writer, body: '{"name":' }),
      await shop.call(`/products/${uuidv7()}`, { token: `${reader}x` }),
      await shop.call('/cart/items', { method: 'POST', token: reader, body: { productId: uuidv7() } }),
    ]) {
      errorBodies.push(await response.text());
    }
    expect(errorBodies.length).toBeGreaterThan(50);
    for (const body of errorBodies) {
      expect(body).not.toMatch(/\n\s+at |\bat .+\.(js|ts):\d+/);
      expect(body).not.toMatch(/postgres(ql)?:\/\/|redis:\/\/|amqps?:\/\/|password/i);
      expect(body).not.toContain(writer.split('.')[2]!);
      expect(body).not.toContain(reader.split('.')[2]!);
      expect(body).not.toMatch(/node_modules|\/work\/|dist\/src/);
    }
  });
});
