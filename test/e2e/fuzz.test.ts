import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { aProductBody } from '../support/builders.js';
import { startShop, uniqueUser, type Shop } from '../support/shop.js';

/*
 * Property-based battery: random methods, paths, query strings, headers and bodies at every route
 * the running app documents (the route list comes from its own /api/openapi.json, since routes are
 * registered in the host's process). No input may yield a 5xx, and every 4xx is problem+json.
 */

interface Operation {
  method: string;
  path: string;
}

let shop: Shop;
let operations: Operation[];
let tokens: { writer: string; reader: string };
let productId: string;

const budgetMs = 60_000;

beforeAll(async () => {
  shop = await startShop();
  const document = (await (await shop.call('/openapi.json')).json()) as { paths: Record<string, Record<string, unknown>> };
  operations = Object.entries(document.paths)
    // Health is 503 only when a dependency is really down: not an input's doing, so it is left out.
    .filter(([path]) => path !== '/health')
    .flatMap(([path, item]) => Object.keys(item).map((method) => ({ method: method.toUpperCase(), path })));
  tokens = {
    writer: await shop.token({ user: uniqueUser('fuzz-writer'), roles: ['Products.Write'] }),
    reader: await shop.token({ user: uniqueUser('fuzz') }),
  };
  const created = await shop.call('/products', { method: 'POST', token: tokens.writer, body: aProductBody({ name: 'fuzz target', stock: 1_000 }) });
  productId = ((await created.json()) as { id: string }).id;
});

afterAll(async () => {
  await shop?.stop();
});

/** Percent-encodes every byte but unreserved characters, so any string survives as one path segment. */
const segment = (text: string) => [...Buffer.from(text, 'utf8')].map((byte) => (/[A-Za-z0-9._~-]/.test(String.fromCharCode(byte)) ? String.fromCharCode(byte) : `%${byte.toString(16).padStart(2, '0').toUpperCase()}`)).join('');

const nasty = fc.constantFrom(
  "' OR '1'='1",
  '"; DROP TABLE products; --',
  '__proto__',
  'constructor',
  'prototype',
  '\u0000',
  '../../etc/passwd',
  '%00',
  '${jndi:ldap://x}',
  '<script>',
  'a'.repeat(2_000),
  '',
  ' ',
  '-1',
  '1e309',
  'NaN',
  '\ud83d\ude00',
  '\uffff',
);
const anyText = fc.oneof(fc.string({ maxLength: 60 }), fc.string({ unit: 'binary', maxLength: 60 }), nasty);
const idValue = fc.oneof({ weight: 3, arbitrary: fc.constant('__product__') }, { weight: 2, arbitrary: fc.uuid() }, { weight: 2, arbitrary: anyText });

/** Undefined 9 times in 10. */
const rarely = <T>(arbitrary: fc.Arbitrary<T>) => fc.oneof({ weight: 9, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary });

const pathFor = (template: string) =>
  fc.record({
    params: fc.array(idValue, { minLength: 3, maxLength: 3 }),
    raw: rarely(fc.constantFrom('%E0%A4%A', '%', '%2F', '..', '%2e%2e', '%ZZ', ';x=1', '//')),
    extra: rarely(fc.array(fc.string({ maxLength: 10 }).map(segment), { minLength: 1, maxLength: 2 })),
  }).map(({ params, raw, extra }) => {
    let i = 0;
    let path = template.replace(/\{\w+\}/g, () => {
      const value = params[i++]!;
      return raw ?? segment(value === '__product__' ? productId : value);
    });
    if (extra) path += extra.map((s) => `/${s}`).join('');
    return path;
  });

const queryString = fc
  .array(
    fc.tuple(
      fc.oneof(fc.constantFrom('limit', 'cursor', '__proto__', 'constructor[prototype][x]', 'limit[]', 'a'), fc.string({ maxLength: 10 })),
      fc.oneof(fc.integer().map(String), fc.double().map(String), anyText, fc.string({ maxLength: 40 }).map((s) => Buffer.from(s).toString('base64url')), fc.uuid().map((u) => Buffer.from(u).toString('base64url'))),
    ),
    { maxLength: 4 },
  )
  .map((pairs) => (pairs.length === 0 ? '' : `?${pairs.map(([k, v]) => `${segment(k)}=${segment(v)}`).join('&')}`));

const forbiddenHeaders = new Set(['host', 'content-length', 'connection', 'transfer-encoding', 'keep-alive', 'upgrade', 'expect', 'te', 'trailer', 'authorization', 'content-type']);
const headerValue = fc.stringMatching(/^[\x21-\x7e]{0,60}$/);
const extraHeaders = fc.dictionary(
  fc.oneof(fc.constantFrom('idempotency-key', 'traceparent', 'tracestate', 'accept', 'x-forwarded-for', 'cookie', 'x-http-method-override', 'origin', 'range'), fc.stringMatching(/^[a-z][a-z0-9-]{0,15}$/)).filter((name) => !forbiddenHeaders.has(name)),
  headerValue,
  { maxKeys: 3 },
);

const authorization = fc.oneof(
  { weight: 4, arbitrary: fc.constant<string | undefined>('writer') },
  { weight: 4, arbitrary: fc.constant<string | undefined>('reader') },
  { weight: 1, arbitrary: fc.constant(undefined) },
  { weight: 1, arbitrary: fc.constantFrom('Bearer', 'Bearer ', 'Basic dXNlcjpwYXNz', 'bearer a.b.c', 'Bearer eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.') },
  { weight: 1, arbitrary: headerValue.map((v) => `Bearer ${v}`) },
);

const contentType = rarely(
  fc.constantFrom('application/json', 'application/json; charset=utf-8', 'text/plain', 'application/problem+json', 'multipart/form-data', 'application/x-www-form-urlencoded', 'application/json; charset=latin1', 'garbage', ''),
);

const anyJsonish = fc.oneof(fc.integer(), fc.double(), fc.boolean(), fc.constant(null), anyText, fc.jsonValue({ maxDepth: 2 }));
/** Bodies shaped like the real ones, with hostile values, plus junk. */
const body = fc.oneof(
  fc.constant(undefined),
  fc.record(
    { name: anyJsonish, description: anyJsonish, price: fc.oneof(fc.double(), fc.integer(), anyJsonish), stock: fc.oneof(fc.integer(), fc.double(), anyJsonish) },
    { requiredKeys: [] },
  ).map((value) => JSON.stringify(value)),
  fc.record({ productId: fc.oneof(idValue.map((v) => (v === '__product__' ? productId : v)), anyJsonish), quantity: fc.oneof(fc.integer({ min: -2, max: 101 }), anyJsonish) }, { requiredKeys: [] }).map((value) => JSON.stringify(value)),
  fc.jsonValue({ maxDepth: 3 }).map((value) => JSON.stringify(value)),
  fc.constantFrom('{"__proto__":{"x":1},"quantity":1}', '{"constructor":{"prototype":{"x":1}}}', '{', '[]', 'null', '"x"', '{"quantity":1e999}', '{"quantity":-0}', '\u0000'),
  fc.string({ unit: 'binary', maxLength: 200 }),
  fc.uint8Array({ maxLength: 200 }).map((bytes) => Buffer.from(bytes)),
);

const request = fc
  .integer({ min: 0, max: 1_000 })
  .chain((index) => {
    const operation = () => operations[index % operations.length]!;
    return fc.record({
      method: fc.oneof({ weight: 4, arbitrary: fc.constant(operation().method) }, { weight: 1, arbitrary: fc.constantFrom('GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'HEAD') }),
      path: pathFor(operation().path),
      query: queryString,
      authorization,
      contentType,
      headers: extraHeaders,
      body,
    });
  });

describe('fuzzing every route', () => {
  it('when random requests hit every documented route, then none is a 5xx and every 4xx is problem+json', async () => {
    expect(operations.length).toBeGreaterThanOrEqual(14);
    const seen = new Map<number, number>();
    const deadline = Date.now() + budgetMs;
    const seed = Number(process.env.FUZZ_SEED ?? Math.floor(Math.random() * 2 ** 31));

    await fc.assert(
      fc.asyncProperty(request, async (r) => {
        const headers: Record<string, string> = { ...r.headers };
        if (r.authorization === 'writer' || r.authorization === 'reader') headers.authorization = `Bearer ${tokens[r.authorization]}`;
        else if (r.authorization !== undefined) headers.authorization = r.authorization;
        const withBody = r.body !== undefined && r.method !== 'GET' && r.method !== 'HEAD';
        if (r.contentType !== undefined || withBody) headers['content-type'] = r.contentType ?? 'application/json';
        const url = `${shop.api}${r.path}${r.query}`;
        const response = await fetch(url, { method: r.method, headers, body: withBody ? r.body : undefined, signal: AbortSignal.timeout(15_000) });
        const text = await response.text();
        seen.set(response.status, (seen.get(response.status) ?? 0) + 1);
        const where = `${r.method} ${url} -> ${response.status} ${text.slice(0, 300)}`;

        expect(response.status, where).toBeLessThan(500);
        // Kestrel, the real host's server, answers a path holding an encoded NUL with an empty 400 before any function runs.
        const refusedByServer = shop.host.command !== undefined && response.status === 400 && text === '' && /%00/i.test(r.path);
        if (response.status >= 400 && r.method !== 'HEAD' && !refusedByServer) {
          expect(response.headers.get('content-type'), where).toMatch(/^application\/problem\+json/);
          const problem = JSON.parse(text) as Record<string, unknown>;
          expect(problem, where).toMatchObject({ type: expect.any(String), title: expect.any(String), status: response.status, detail: expect.any(String) });
          expect(text, where).not.toMatch(/\n\s+at |node_modules|postgres:\/\/|redis:\/\/|amqp:\/\//);
        }
      }),
      { numRuns: 500, interruptAfterTimeLimit: budgetMs, markInterruptAsFailure: false, seed },
    );

    // The app still serves ordinary requests afterwards.
    expect((await shop.call('/products?limit=1', { token: tokens.reader })).status).toBe(200);
    expect((await shop.call('/health')).status).toBe(200);
    expect(Date.now()).toBeLessThan(deadline + 30_000);
    // The battery reached past validation into the domain, not only 401s.
    expect([...seen.keys()].some((status) => status < 300)).toBe(true);
    expect(seen.get(401) ?? 0).toBeGreaterThan(0);
    expect(seen.get(400) ?? 0).toBeGreaterThan(0);
    console.info(`fuzz statuses ${JSON.stringify(Object.fromEntries(seen))}; replay with FUZZ_SEED=${seed}`);
  }, budgetMs + 60_000);
});
