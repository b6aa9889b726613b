/*
 * npm run smoke -- [--api http://127.0.0.1:7071/api] [--mail http://127.0.0.1:1080] [--only <check>]
 *
 * The contract smoke: walks every item of the public contract (routes and their problems, tokens and
 * roles, catalog search, categories, images, cart, checkout, orders, cancel, events and their queues,
 * dead letters, the customer emails) against an already running `npm run dev` (or `npm start`), the
 * way an outside test suite written against the contract would. CI runs it under the local host and
 * under the real Functions host (FUNCTIONS_HOST_COMMAND), so a difference between them fails a run.
 *
 * Tokens are minted with the dev issuer's key in .local/dev-issuer (as `npm run token` does) for the
 * issuer the running app expects (ENTRA_ISSUER from the environment or local.settings.json); the
 * broker checks use RABBITMQ_URL; the emails are read from MailDev's web API (--mail, default
 * MAILDEV_WEB_PORT or 1080). Each check prints one line, `ok` or `FAIL` with what differed; the
 * exit code is the number of failed checks (at most 100).
 */
import { randomUUID } from 'node:crypto';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { parseArgs, promisify } from 'node:util';
import amqp from 'amqplib';
import { SignJWT, generateKeyPair } from 'jose';
import { deadLetterQueueOf, eventsExchange, queueDeclarations, queues } from '../src/adapters/rabbitmq/topology.js';
import { createDevTokenMinter, DEV_API_CLIENT_ID, DEV_CLIENT_ID, DEV_TENANT_ID, devIssuerUrls, devUserObjectId, loadOrCreateDevIssuerState } from '../src/dev-issuer/index.js';
import { loadLocalSettings, projectRoot } from './localSettings.js';
import { encodePng } from './png.js';

loadLocalSettings();
const { values } = parseArgs({
  options: {
    api: { type: 'string', default: `http://127.0.0.1:${process.env.PORT ?? 7071}/api` },
    mail: { type: 'string', default: `http://127.0.0.1:${process.env.MAILDEV_WEB_PORT ?? 1080}` },
    only: { type: 'string' },
  },
});
const api = values.api!.replace(/\/$/, '');
const mailWeb = values.mail!.replace(/\/$/, '');

const state = await loadOrCreateDevIssuerState(join(projectRoot, '.local/dev-issuer'));
const issuer = process.env.ENTRA_ISSUER || devIssuerUrls().issuer;
const minter = createDevTokenMinter(state, issuer);
const run = randomUUID().slice(0, 8);
const userToken = (user: string, roles?: string[]) => minter.mintUserToken({ user: `smoke-${run}-${user}`, roles });
const emailOf = (user: string) => `smoke-${run}-${user}@dev.local`;

/** A token signed as the dev issuer signs, with claims or header changed: the ways a token goes wrong. */
async function forgedToken(claims: Record<string, unknown>, options: { key?: Parameters<SignJWT['sign']>[0]; kid?: string; alg?: string } = {}): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  const payload = { aud: DEV_API_CLIENT_ID, iss: issuer, iat: now, nbf: now, exp: now + 600, tid: DEV_TENANT_ID, ver: '2.0', oid: devUserObjectId(`smoke-${run}-forged`), sub: 'forged', scp: 'access_as_user', azp: DEV_CLIENT_ID, ...claims };
  for (const [name, value] of Object.entries(payload)) if (value === undefined) delete (payload as Record<string, unknown>)[name];
  return new SignJWT(payload)
    .setProtectedHeader({ alg: options.alg ?? 'RS256', typ: 'JWT', kid: options.kid ?? state.publicJwk.kid })
    .sign(options.key ?? state.signingKey);
}

interface CallOptions {
  method?: string;
  token?: string;
  body?: unknown;
  headers?: Record<string, string>;
}
interface Answer {
  status: number;
  headers: Headers;
  body: any; // eslint-disable-line @typescript-eslint/no-explicit-any -- whatever JSON the route answers, read by the checks
  text: string;
}

async function call(path: string, { method = 'GET', token, body, headers = {} }: CallOptions = {}): Promise<Answer> {
  const raw = body instanceof Uint8Array || typeof body === 'string';
  const response = await fetch(path.startsWith('http') ? path : `${api}${path}`, {
    method,
    headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(body !== undefined && !raw ? { 'content-type': 'application/json' } : {}), ...headers },
    body: body === undefined ? undefined : raw ? (body as string | Uint8Array<ArrayBuffer>) : JSON.stringify(body),
    signal: AbortSignal.timeout(30_000),
  });
  const text = await response.text();
  let parsed: unknown;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {
    parsed = undefined;
  }
  return { status: response.status, headers: response.headers, body: parsed, text };
}

class CheckFailed extends Error {}
function expect(condition: unknown, what: string, answer?: Answer): asserts condition {
  if (!condition) throw new CheckFailed(answer ? `${what} (got ${answer.status} ${answer.headers.get('content-type') ?? ''} ${answer.text.slice(0, 300)})` : what);
}
function expectStatus(answer: Answer, status: number, what: string): void {
  expect(answer.status === status, `${what}: expected ${status}`, answer);
}
/** Every 4xx/5xx: application/problem+json {type, title, status, detail, code}, with the status in the body. */
function expectProblem(answer: Answer, status: number, what: string, code?: string): void {
  expectStatus(answer, status, what);
  expect(/^application\/problem\+json/.test(answer.headers.get('content-type') ?? ''), `${what}: problem+json content type`, answer);
  const body = answer.body as Record<string, unknown> | undefined;
  expect(body && typeof body.type === 'string' && typeof body.title === 'string' && body.status === status && typeof body.detail === 'string', `${what}: problem body {type, title, status, detail}`, answer);
  if (code) expect(body.code === code, `${what}: code ${code}`, answer);
}
function expectUnauthorized(answer: Answer, what: string): void {
  expectProblem(answer, 401, what);
  expect(/^Bearer\b.*error="invalid_token"/.test(answer.headers.get('www-authenticate') ?? ''), `${what}: WWW-Authenticate Bearer error="invalid_token"`, answer);
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
async function eventually<T>(what: string, read: () => Promise<T>, done: (value: T) => boolean, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (done(value)) return value;
    if (Date.now() > deadline) throw new CheckFailed(`${what} within ${timeoutMs / 1000} s; last: ${JSON.stringify(value).slice(0, 400)}`);
    await sleep(200);
  }
}

const adminToken = await userToken('admin', ['Products.Write']);
const supportToken = await minter.mintAppToken({ roles: ['Orders.Read.All'] });
const publicRead = process.env.CATALOG_PUBLIC_READ === 'true';
const png = encodePng(4, 4, (x, y) => [x * 60, y * 60, 128]);

async function createProduct(fields: Record<string, unknown> = {}): Promise<{ id: string; price: number; stock: number; name: string }> {
  const created = await call('/products', { method: 'POST', token: adminToken, body: { name: `Smoke kettle ${run}`, description: 'A smoke-test product', price: 12.5, stock: 10, ...fields } });
  expectStatus(created, 201, 'POST /products');
  return created.body;
}
async function checkout(token: string, productId: string, quantity: number, body?: unknown): Promise<Answer> {
  expectStatus(await call('/cart/items', { method: 'POST', token, body: { productId, quantity } }), 200, 'POST /cart/items');
  const accepted = await call('/cart/checkout', { method: 'POST', token, headers: { 'idempotency-key': randomUUID() }, body });
  expectStatus(accepted, 202, 'POST /cart/checkout');
  return accepted;
}
const finalStatuses = ['PAID', 'PAYMENT_FAILED', 'REJECTED', 'CANCELLED'];
const orderOf = (token: string, id: string) =>
  eventually(
    `order ${id} final`,
    () => call(`/orders/${id}`, { token }),
    (answer) => answer.status === 200 && finalStatuses.includes(answer.body.status) && answer.body.payment?.status !== 'REFUNDING',
  ).then((answer) => answer.body);

/** The messages MailDev holds for one address (its web API, as test/support/mailCatcher.ts reads it). */
const mailsTo = async (address: string) =>
  ((await (await fetch(`${mailWeb}/api/email`)).json()) as { to: { address: string }[]; subject: string }[]).filter((mail) => mail.to.some((r) => r.address === address));

const checks: [string, () => Promise<void>][] = [];
const check = (name: string, body: () => Promise<void>) => checks.push([name, body]);

check('health: 200 with every check ok and a consumer on every trigger queue', async () => {
  const health = await call('/health');
  expectStatus(health, 200, 'GET /health');
  expect(health.body?.status === 'ok', 'status ok', health);
  for (const name of ['postgres', 'redis', 'rabbitmq']) expect(health.body.checks?.[name] === 'ok', `checks.${name} ok`, health);
  for (const queue of Object.values(queues)) expect(health.body.consumers?.[queue] >= 1, `a consumer on ${queue}`, health);
});

check('API docs answer without a token', async () => {
  const openapi = await call('/openapi.json');
  expectStatus(openapi, 200, 'GET /openapi.json');
  expect(typeof openapi.body?.openapi === 'string', 'an OpenAPI document', openapi);
  expectStatus(await call('/docs'), 200, 'GET /docs');
});

check('tokens: missing, malformed, expired, not yet valid, wrong audience, wrong issuer, unknown key, HS256 and alg none are 401', async () => {
  expectUnauthorized(await call('/cart'), 'no token');
  expectUnauthorized(await call('/cart', { token: 'not-a-jwt' }), 'malformed token');
  expectUnauthorized(await call('/cart', { headers: { authorization: 'Basic YTpi' } }), 'Basic scheme');
  const now = Math.floor(Date.now() / 1000);
  expectUnauthorized(await call('/cart', { token: await forgedToken({ iat: now - 7200, nbf: now - 7200, exp: now - 120 }) }), 'expired 120 s ago');
  expectUnauthorized(await call('/cart', { token: await forgedToken({ nbf: now + 300 }) }), 'not valid for 300 s');
  expectUnauthorized(await call('/cart', { token: await forgedToken({ aud: 'api://someone-else' }) }), 'another audience');
  expectUnauthorized(await call('/cart', { token: await forgedToken({ iss: `https://login.microsoftonline.com/${DEV_TENANT_ID}/v2.0` }) }), 'another issuer');
  const { privateKey } = await generateKeyPair('RS256');
  expectUnauthorized(await call('/cart', { token: await forgedToken({}, { key: privateKey, kid: 'smoke-unknown-kid' }) }), 'a key not in the JWKS');
  expectUnauthorized(await call('/cart', { token: await forgedToken({}, { key: privateKey }) }), 'a known kid, another key');
  expectUnauthorized(await call('/cart', { token: await forgedToken({}, { key: new TextEncoder().encode('a-shared-secret-of-at-least-32-bytes!'), alg: 'HS256' }) }), 'HS256');
  const unsigned = `${Buffer.from(JSON.stringify({ alg: 'none', typ: 'JWT' })).toString('base64url')}.${(await forgedToken({})).split('.')[1]}.`;
  expectUnauthorized(await call('/cart', { token: unsigned }), 'alg none');
  if (!publicRead) expectUnauthorized(await call('/products'), 'the catalog without a token (CATALOG_PUBLIC_READ false)');
  else expectUnauthorized(await call('/products', { token: 'not-a-jwt' }), 'a bad token on the public catalog');
});

check('CATALOG_PUBLIC_READ: the catalog answers without a token only when it is true; the cart never', async () => {
  const product = await createProduct();
  for (const path of ['/products', `/products/${product.id}`, '/categories']) {
    const anonymous = await call(path);
    if (publicRead) expectStatus(anonymous, 200, `${path} without a token (CATALOG_PUBLIC_READ true)`);
    else expectUnauthorized(anonymous, `${path} without a token (CATALOG_PUBLIC_READ false)`);
  }
  expectUnauthorized(await call('/cart'), '/cart without a token');
  expectUnauthorized(await call('/orders'), '/orders without a token');
});

check('tokens: both audiences, skew within 60 s, app tokens with roles; 403 for a missing role', async () => {
  expectStatus(await call('/cart', { token: await forgedToken({ aud: `api://${DEV_API_CLIENT_ID}` }) }), 200, 'audience api://<client id>');
  const now = Math.floor(Date.now() / 1000);
  expectStatus(await call('/cart', { token: await forgedToken({ exp: now - 20 }) }), 200, 'expired 20 s ago (within the skew)');
  const shopper = await userToken('norole');
  expectProblem(await call('/products', { method: 'POST', token: shopper, body: { name: 'x', price: 1, stock: 1 } }), 403, 'POST /products without Products.Write');
  expectProblem(await call('/categories', { method: 'POST', token: shopper, body: { slug: `s-${run}`, name: 'x' } }), 403, 'POST /categories without Products.Write');
  const writerApp = await minter.mintAppToken({ roles: ['Products.Write'] });
  const created = await call('/products', { method: 'POST', token: writerApp, body: { name: `Smoke app ${run}`, price: 3, stock: 1 } });
  expectStatus(created, 201, 'POST /products with an app token holding Products.Write');
  expectStatus(await call(`/products/${created.body.id}`, { method: 'DELETE', token: writerApp }), 204, 'DELETE with the app token');
});

check('products: create, read, update, delete, list with cursor; 400, 404, 413, 415 problems', async () => {
  const created = await call('/products', { method: 'POST', token: adminToken, body: { name: `Smoke mill ${run}`, description: 'Burr mill', price: 19.99, stock: 7 } });
  expectStatus(created, 201, 'POST /products');
  const product = created.body;
  expect(typeof product.id === 'string' && product.price === 19.99 && product.stock === 7 && product.description === 'Burr mill', 'Product fields', created);
  for (const field of ['createdAt', 'updatedAt']) expect(typeof product[field] === 'string', `Product.${field}`, created);
  expect(product.category === null && Array.isArray(product.images), 'category null and images []', created);
  expect(created.headers.get('location')?.endsWith(`/api/products/${product.id}`), 'Location /api/products/{id}', created);
  const read = await call(`/products/${product.id}`, { token: adminToken });
  expect(read.status === 200 && read.body.name === product.name, 'GET /products/{id}', read);
  const updated = await call(`/products/${product.id}`, { method: 'PUT', token: adminToken, body: { name: `Smoke mill ${run} v2`, price: 21, stock: 5 } });
  expect(updated.status === 200 && updated.body.price === 21 && updated.body.stock === 5, 'PUT /products/{id}', updated);
  expectProblem(await call(`/products/${randomUUID()}`, { method: 'PUT', token: adminToken, body: { name: 'x', price: 1, stock: 1 } }), 404, 'PUT of an unknown product');
  expectProblem(await call(`/products/${randomUUID()}`, { token: adminToken }), 404, 'GET of an unknown product');
  expectProblem(await call('/products/not-a-uuid', { token: adminToken }), 404, 'GET of a product id that is not a UUID');
  for (const [what, body] of [
    ['a negative price', { name: 'x', price: -1, stock: 1 }],
    ['a price with 3 decimals', { name: 'x', price: 1.234, stock: 1 }],
    ['a fractional stock', { name: 'x', price: 1, stock: 1.5 }],
    ['a negative stock', { name: 'x', price: 1, stock: -1 }],
    ['no name', { price: 1, stock: 1 }],
    ['a price as a string', { name: 'x', price: '1', stock: 1 }],
    ['an array', [1, 2]],
  ] as const)
    expectProblem(await call('/products', { method: 'POST', token: adminToken, body }), 400, `POST /products with ${what}`);
  expect([400, 415].includes((await call('/products', { method: 'POST', token: adminToken, body: '{"name":', headers: { 'content-type': 'application/json' } })).status), 'malformed JSON is 400 or 415');
  expectProblem(await call('/products', { method: 'POST', token: adminToken, body: 'name=x', headers: { 'content-type': 'text/plain' } }), 415, 'POST /products with a text/plain body');
  expectProblem(await call('/products', { method: 'POST', token: adminToken, body: JSON.stringify({ name: 'x'.repeat(1_100_000), price: 1, stock: 1 }), headers: { 'content-type': 'application/json' } }), 413, 'a body over 1 MiB');

  const first = await call('/products?limit=2&sort=name', { token: adminToken });
  expect(first.status === 200 && first.body.items.length === 2 && typeof first.body.nextCursor === 'string', 'a first page of 2 with nextCursor', first);
  const second = await call(`/products?limit=2&sort=name&cursor=${encodeURIComponent(first.body.nextCursor)}`, { token: adminToken });
  expect(second.status === 200 && second.body.items.length > 0, 'the next page', second);
  const seen = new Set(first.body.items.map((p: { id: string }) => p.id));
  expect(second.body.items.every((p: { id: string }) => !seen.has(p.id)), 'no product on both pages', second);
  expectProblem(await call('/products?limit=0', { token: adminToken }), 400, 'limit 0');
  expectProblem(await call('/products?cursor=garbage', { token: adminToken }), 400, 'a cursor that is not one');

  expectStatus(await call(`/products/${product.id}`, { method: 'DELETE', token: adminToken }), 204, 'DELETE /products/{id}');
  expectProblem(await call(`/products/${product.id}`, { method: 'DELETE', token: adminToken }), 404, 'DELETE again');
  expectProblem(await call(`/products/${product.id}`, { token: adminToken }), 404, 'GET after DELETE');
});

check('routing: unknown route 404, wrong method 405 with Allow, both problems', async () => {
  expectProblem(await call('/no-such-route', { token: adminToken }), 404, 'an unknown route');
  const wrongMethod = await call('/health', { method: 'DELETE' });
  expectProblem(wrongMethod, 405, 'DELETE /health');
  expect(wrongMethod.headers.get('allow')?.includes('GET'), 'Allow names GET', wrongMethod);
});

check('categories: create 201, duplicate 409, bad slug 400, listed with productCount, unknown slug on a product 400', async () => {
  const slug = `smoke-${run}`;
  const created = await call('/categories', { method: 'POST', token: adminToken, body: { slug, name: `Smoke ${run}` } });
  expect(created.status === 201 && created.body.slug === slug, 'POST /categories', created);
  expectProblem(await call('/categories', { method: 'POST', token: adminToken, body: { slug, name: 'again' } }), 409, 'the same slug again', 'category_exists');
  expectProblem(await call('/categories', { method: 'POST', token: adminToken, body: { slug: 'Not A Slug', name: 'x' } }), 400, 'a bad slug');
  expectProblem(await call('/products', { method: 'POST', token: adminToken, body: { name: 'x', price: 1, stock: 1, category: `none-${run}` } }), 400, 'an unknown category', 'unknown_category');
  const product = await createProduct({ category: slug });
  expect((product as { category?: string }).category === slug, 'the product has the category');
  const listed = await call('/categories', { token: adminToken });
  const entry = listed.body?.items?.find((c: { slug: string }) => c.slug === slug);
  expect(listed.status === 200 && entry?.productCount === 1 && entry.name === `Smoke ${run}`, 'GET /categories lists it with productCount 1', listed);
});

check('search: q by word stem, category, sort, price bounds, cursor of the same query; bad sort or price 400', async () => {
  const slug = `search-${run}`;
  expectStatus(await call('/categories', { method: 'POST', token: adminToken, body: { slug, name: `Search ${run}` } }), 201, 'POST /categories');
  // One letter per hex digit of a fresh UUID: a word no earlier run's product can contain. Mapping
  // only the digits to one letter left so few words that a reused database held this one already.
  const word = `zq${[...randomUUID().replace(/-/g, '').slice(0, 12)].map((hex) => String.fromCharCode(97 + parseInt(hex, 16))).join('')}`;
  const cheap = await createProduct({ name: `${word} grinder`, price: 5, category: slug });
  const dear = await createProduct({ name: `Other ${run}`, description: `For ${word} grinders`, price: 50, category: slug });
  const found = await call(`/products?q=${word}+grinders`, { token: adminToken });
  expect(found.status === 200 && found.body.items.map((p: { id: string }) => p.id).join() === [cheap.id, dear.id].join(), 'q finds both, the name match first', found);
  const byPrice = await call(`/products?category=${slug}&sort=-price`, { token: adminToken });
  expect(byPrice.body?.items?.map((p: { id: string }) => p.id).join() === [dear.id, cheap.id].join(), 'category + sort=-price', byPrice);
  const bounded = await call(`/products?category=${slug}&minPrice=5&maxPrice=49.99`, { token: adminToken });
  expect(bounded.body?.items?.map((p: { id: string }) => p.id).join() === cheap.id, 'minPrice/maxPrice inclusive', bounded);
  const page = await call(`/products?category=${slug}&sort=price&limit=1`, { token: adminToken });
  const next = await call(`/products?category=${slug}&sort=price&limit=1&cursor=${encodeURIComponent(page.body.nextCursor)}`, { token: adminToken });
  expect(page.body.items[0]?.id === cheap.id && next.body?.items?.[0]?.id === dear.id, 'nextCursor continues the query', next);
  expectProblem(await call(`/products?category=${slug}&sort=name&cursor=${encodeURIComponent(page.body.nextCursor)}`, { token: adminToken }), 400, 'the cursor on another query');
  expectProblem(await call('/products?sort=cheapest', { token: adminToken }), 400, 'an unknown sort');
  expectProblem(await call('/products?minPrice=abc', { token: adminToken }), 400, 'a bad minPrice');
  expectProblem(await call('/products?minPrice=10&maxPrice=5', { token: adminToken }), 400, 'minPrice above maxPrice');
  const none = await call(`/products?category=none-${run}`, { token: adminToken });
  expect(none.status === 200 && none.body.items.length === 0, 'an unknown category is an empty page', none);
});

check('images: upload 201 with a fetchable url, 415 for another type or bytes, 413 over 5 MiB, delete by position', async () => {
  const product = await createProduct();
  const uploaded = await call(`/products/${product.id}/images?alt=${encodeURIComponent('A kettle')}`, { method: 'POST', token: adminToken, body: png, headers: { 'content-type': 'image/png' } });
  expect(uploaded.status === 201 && uploaded.body.alt === 'A kettle' && typeof uploaded.body.url === 'string', 'POST /products/{id}/images', uploaded);
  expect(uploaded.headers.get('location') === uploaded.body.url, 'Location is the url', uploaded);
  const image = await fetch(uploaded.body.url);
  const bytes = Buffer.from(await image.arrayBuffer());
  expect(image.status === 200 && bytes.equals(png), `the url serves the image (${image.status})`);
  const withImage = await call(`/products/${product.id}`, { token: adminToken });
  expect(withImage.body?.images?.[0]?.url === uploaded.body.url, 'the product lists the image', withImage);
  expectProblem(await call(`/products/${product.id}/images`, { method: 'POST', token: adminToken, body: png, headers: { 'content-type': 'image/gif' } }), 415, 'image/gif');
  expectProblem(await call(`/products/${product.id}/images`, { method: 'POST', token: adminToken, body: Buffer.from('not a png at all'), headers: { 'content-type': 'image/png' } }), 415, 'bytes that are not a PNG');
  const big = Buffer.concat([png, Buffer.alloc(5 * 1024 * 1024 + 1024)]);
  expectProblem(await call(`/products/${product.id}/images`, { method: 'POST', token: adminToken, body: big, headers: { 'content-type': 'image/png' } }), 413, 'an image over 5 MiB');
  expectProblem(await call(`/products/${randomUUID()}/images`, { method: 'POST', token: adminToken, body: png, headers: { 'content-type': 'image/png' } }), 404, 'an unknown product');
  expectProblem(await call(`/products/${product.id}/images`, { method: 'POST', token: await userToken('norole'), body: png, headers: { 'content-type': 'image/png' } }), 403, 'without Products.Write');
  expectProblem(await call(`/products/${product.id}/images/5`, { method: 'DELETE', token: adminToken }), 404, 'DELETE of an image that is not there');
  expectStatus(await call(`/products/${product.id}/images/0`, { method: 'DELETE', token: adminToken }), 204, 'DELETE /products/{id}/images/0');
  const after = await call(`/products/${product.id}`, { token: adminToken });
  expect(after.body?.images?.length === 0, 'the image is gone from the product', after);
});

check('cart: add, merge, set, remove; 404 unknown product, 409 insufficient_stock with available, 400 bad quantity', async () => {
  const token = await userToken('cart');
  const product = await createProduct({ price: 2.5, stock: 5 });
  const empty = await call('/cart', { token });
  expect(empty.status === 200 && empty.body.items.length === 0 && empty.body.total === 0, 'an empty cart', empty);
  expectStatus(await call('/cart/items', { method: 'POST', token, body: { productId: product.id } }), 200, 'add 1 (default quantity)');
  const merged = await call('/cart/items', { method: 'POST', token, body: { productId: product.id, quantity: 2 } });
  expect(merged.status === 200 && merged.body.items.length === 1, 'one line', merged);
  const line = merged.body.items[0];
  expect(line.productId === product.id && line.quantity === 3 && line.unitPrice === 2.5 && line.lineTotal === 7.5 && line.name === product.name && merged.body.total === 7.5, 'the line {productId, name, unitPrice, quantity, lineTotal} and total', merged);
  const tooMany = await call('/cart/items', { method: 'POST', token, body: { productId: product.id, quantity: 3 } });
  expectProblem(tooMany, 409, 'more than the stock', 'insufficient_stock');
  expect(tooMany.body.available === 5, 'available 5', tooMany);
  expectProblem(await call(`/cart/items/${product.id}`, { method: 'PUT', token, body: { quantity: 6 } }), 409, 'PUT beyond the stock', 'insufficient_stock');
  expect((await call('/cart', { token })).body.items[0].quantity === 3, 'a refused change leaves the cart as it was');
  expectProblem(await call('/cart/items', { method: 'POST', token, body: { productId: randomUUID() } }), 404, 'an unknown product');
  for (const quantity of [0, -1, 1.5, '2']) expectProblem(await call('/cart/items', { method: 'POST', token, body: { productId: product.id, quantity } }), 400, `quantity ${JSON.stringify(quantity)}`);
  const set = await call(`/cart/items/${product.id}`, { method: 'PUT', token, body: { quantity: 1 } });
  expect(set.status === 200 && set.body.items[0].quantity === 1, 'PUT sets the quantity', set);
  const zero = await call(`/cart/items/${product.id}`, { method: 'PUT', token, body: { quantity: 0 } });
  expect(zero.status === 200 && zero.body.items.length === 0, 'PUT 0 removes the line', zero);
  await call('/cart/items', { method: 'POST', token, body: { productId: product.id } });
  const removed = await call(`/cart/items/${product.id}`, { method: 'DELETE', token });
  expect(removed.status === 200 && removed.body.items.length === 0 && removed.body.total === 0, 'DELETE removes the line', removed);
});

check('checkout: empty cart 409, 202 with Location, same key same body, cart emptied, bad address 400, order PAID with its address; orders listed newest first', async () => {
  const token = await userToken('buyer');
  const product = await createProduct({ price: 4.25, stock: 10 });
  expectProblem(await call('/cart/checkout', { method: 'POST', token }), 409, 'checkout of an empty cart', 'cart_empty');
  await call('/cart/items', { method: 'POST', token, body: { productId: product.id, quantity: 2 } });
  expectProblem(await call('/cart/checkout', { method: 'POST', token, body: { shippingAddress: { name: 'A', line1: 'B', city: 'C', postalCode: '1', country: 'XX' } } }), 400, 'a bad country');
  expectProblem(await call('/cart/checkout', { method: 'POST', token, body: { shippingAddress: { name: 'A' } } }), 400, 'an incomplete address');
  const key = randomUUID();
  const shippingAddress = { name: 'Ada Lovelace', line1: '1 Smoke Street', city: 'London', postalCode: 'N1 1AA', country: 'gb' };
  const accepted = await call('/cart/checkout', { method: 'POST', token, headers: { 'idempotency-key': key }, body: { shippingAddress } });
  expectStatus(accepted, 202, 'POST /cart/checkout');
  expect(accepted.body.status === 'PENDING' && typeof accepted.body.checkoutId === 'string' && typeof accepted.body.orderId === 'string', '{checkoutId, orderId, status: PENDING}', accepted);
  expect(accepted.headers.get('location') === `/api/orders/${accepted.body.orderId}`, 'Location /api/orders/{orderId}', accepted);
  const again = await call('/cart/checkout', { method: 'POST', token, headers: { 'idempotency-key': key }, body: { shippingAddress } });
  expect(again.status === 202 && JSON.stringify(again.body) === JSON.stringify(accepted.body), 'the same key answers the same body', again);
  const reused = await call('/cart/checkout', { method: 'POST', token, headers: { 'idempotency-key': key }, body: { shippingAddress: { ...shippingAddress, city: 'Paris' } } });
  expectProblem(reused, 422, 'the same key with another body', 'idempotency_key_reused');
  const cart = await call('/cart', { token });
  expect(cart.body?.items?.length === 0, 'the cart is emptied', cart);
  const order = await orderOf(token, accepted.body.orderId);
  expect(order.status === 'PAID' && order.total === 8.5 && order.items[0].quantity === 2 && order.items[0].unitPrice === 4.25 && order.items[0].name === product.name, `order PAID with its items and total: ${JSON.stringify(order)}`);
  expect(order.shippingAddress?.country === 'GB' && order.shippingAddress.line1 === '1 Smoke Street', `shippingAddress kept, country in capitals: ${JSON.stringify(order.shippingAddress)}`);
  expect(order.payment && typeof order.createdAt === 'string' && typeof order.updatedAt === 'string', `payment, createdAt, updatedAt: ${JSON.stringify(order)}`);
  const stock = await call(`/products/${product.id}`, { token: adminToken });
  expect(stock.body.stock === 8, 'stock taken once', stock);
  const second = await checkout(token, product.id, 1);
  await orderOf(token, second.body.orderId); // the orders function writes the order a moment after the 202
  const listed = await call('/orders?limit=1', { token });
  expect(listed.status === 200 && listed.body.items[0]?.id === second.body.orderId && typeof listed.body.nextCursor === 'string', 'GET /orders newest first with nextCursor', listed);
  const rest = await call(`/orders?limit=1&cursor=${encodeURIComponent(listed.body.nextCursor)}`, { token });
  expect(rest.body?.items?.[0]?.id === accepted.body.orderId, 'the next page holds the first order', rest);
  expectProblem(await call(`/orders/${accepted.body.orderId}`, { token: await userToken('stranger') }), 404, "another user's order");
  expect((await call(`/orders/${accepted.body.orderId}`, { token: supportToken })).status === 200, 'Orders.Read.All reads any order');
  const strangers = await call('/orders', { token: await userToken('stranger') });
  expect(strangers.status === 200 && strangers.body.items.length === 0, "another user's list holds none of them", strangers);
});

check('concurrent checkouts of one cart make one order', async () => {
  const token = await userToken('double');
  const product = await createProduct({ stock: 10 });
  await call('/cart/items', { method: 'POST', token, body: { productId: product.id, quantity: 1 } });
  const answers = await Promise.all([undefined, undefined, 'k1', 'k2', 'k1'].map((key) => call('/cart/checkout', { method: 'POST', token, headers: key ? { 'idempotency-key': `${run}-${key}` } : {} })));
  const orderIds = new Set(answers.filter((a) => a.status === 202).map((a) => a.body.orderId));
  expect(orderIds.size === 1, `one orderId among ${answers.map((a) => a.status).join(',')}: ${[...orderIds].join(',')}`);
  expect(answers.every((a) => a.status === 202 || a.status === 409), `only 202 or 409: ${answers.map((a) => a.status).join(',')}`);
  const [orderId] = orderIds;
  await orderOf(token, orderId);
  const orders = await call('/orders', { token });
  expect(orders.body.items.length === 1, 'one order in the list', orders);
});

check('payment declined: PAYMENT_FAILED with a reason; not cancellable (409)', async () => {
  const declineAbove = Number(process.env.PAYMENT_DECLINE_ABOVE ?? 10000);
  const token = await userToken('declined');
  const product = await createProduct({ price: Math.min(declineAbove + 1, 99999), stock: 2 });
  const accepted = await checkout(token, product.id, 1);
  const order = await orderOf(token, accepted.body.orderId);
  expect(order.status === 'PAYMENT_FAILED' && typeof order.reason === 'string', `PAYMENT_FAILED with a reason: ${JSON.stringify(order)}`);
  expectProblem(await call(`/orders/${order.id}/cancel`, { method: 'POST', token }), 409, 'cancel of PAYMENT_FAILED', 'order_not_cancellable');
});

check('stock gone before payment: one order PAID, the other REJECTED with a reason and not cancellable', async () => {
  const product = await createProduct({ stock: 1 });
  const [first, second] = [await userToken('race-a'), await userToken('race-b')];
  for (const token of [first, second]) expectStatus(await call('/cart/items', { method: 'POST', token, body: { productId: product.id } }), 200, 'add the last unit');
  const orders = await Promise.all(
    [first, second].map(async (token) => {
      const accepted = await call('/cart/checkout', { method: 'POST', token });
      expectStatus(accepted, 202, 'checkout');
      return { token, order: await orderOf(token, accepted.body.orderId) };
    }),
  );
  const statuses = orders.map(({ order }) => order.status).sort();
  expect(statuses.join() === 'PAID,REJECTED', `PAID and REJECTED: ${statuses.join()}`);
  const rejected = orders.find(({ order }) => order.status === 'REJECTED')!;
  expect(typeof rejected.order.reason === 'string' && rejected.order.reason.length > 0, `REJECTED gives a reason: ${JSON.stringify(rejected.order)}`);
  expectProblem(await call(`/orders/${rejected.order.id}/cancel`, { method: 'POST', token: rejected.token }), 409, 'cancel of REJECTED', 'order_not_cancellable');
  expect((await call(`/products/${product.id}`, { token: adminToken })).body.stock === 0, 'stock 0, never negative');
});

check('cancel: a PAID order ends CANCELLED (customer), refunded once, stock back once; again changes nothing; 404 for another user; one email per event', async () => {
  const user = 'canceller';
  const token = await userToken(user);
  const product = await createProduct({ stock: 4 });
  const accepted = await checkout(token, product.id, 3);
  const paid = await orderOf(token, accepted.body.orderId);
  expect(paid.status === 'PAID', `PAID first: ${JSON.stringify(paid)}`);
  expectProblem(await call(`/orders/${paid.id}/cancel`, { method: 'POST', token: await userToken('stranger') }), 404, "cancel of another user's order");
  const cancelled = await call(`/orders/${paid.id}/cancel`, { method: 'POST', token });
  expect(cancelled.status === 202 && cancelled.body.id === paid.id, 'POST /orders/{id}/cancel 202 with the Order', cancelled);
  const final = await eventually(
    'CANCELLED and REFUNDED',
    () => call(`/orders/${paid.id}`, { token }),
    (answer) => answer.body?.status === 'CANCELLED' && answer.body.payment?.status === 'REFUNDED',
  );
  expect(final.body.cancelReason === 'customer' && typeof final.body.payment.refundedAt === 'string', 'cancelReason customer and refundedAt', final);
  const again = await call(`/orders/${paid.id}/cancel`, { method: 'POST', token });
  expect(again.status === 202 && again.body.status === 'CANCELLED' && again.body.payment?.refundedAt === final.body.payment.refundedAt, 'cancelling again answers the same order', again);
  const stock = await call(`/products/${product.id}`, { token: adminToken });
  expect(stock.body.stock === 4, 'stock back once', stock);
  const to = emailOf(user);
  const mails = await eventually(
    `two emails to ${to} (order paid, order cancelled) at ${mailWeb}`,
    () => mailsTo(to),
    (found) => found.length >= 2,
  );
  await sleep(1_000); // a third would be a duplicate
  const settled = await mailsTo(to);
  expect(settled.length === 2, `exactly two emails to ${to}: ${mails.map((m) => m.subject).join(' | ')}`);
});

check('events: CartCheckedOut, OrderCreated, PaymentSucceeded, OrderPaid published persistent JSON with messageId, type and traceparent; delivered again, they change nothing', async () => {
  const connection = await amqp.connect(process.env.RABBITMQ_URL!);
  try {
    const channel = await connection.createChannel();
    const { queue } = await channel.assertQueue('', { exclusive: true, autoDelete: true });
    const expected = ['CartCheckedOut', 'OrderCreated', 'PaymentSucceeded', 'OrderPaid'];
    for (const type of expected) await channel.bindQueue(queue, eventsExchange, type);
    const token = await userToken('events');
    const product = await createProduct();
    const accepted = await checkout(token, product.id, 1);
    const orderId = accepted.body.orderId as string;
    await orderOf(token, orderId);
    const seen = new Map<string, amqp.GetMessage>();
    await eventually(
      `the four events of order ${orderId}`,
      async () => {
        for (let message = await channel.get(queue, { noAck: true }); message; message = await channel.get(queue, { noAck: true })) {
          const body = JSON.parse(message.content.toString()) as { orderId?: string };
          if (body.orderId === orderId) seen.set(message.properties.type as string, message);
        }
        return [...seen.keys()];
      },
      (types) => expected.every((type) => types.includes(type)),
    );
    for (const [type, message] of seen) {
      const { properties } = message;
      const body = JSON.parse(message.content.toString()) as Record<string, unknown>;
      expect(properties.deliveryMode === 2, `${type} persistent`);
      expect(typeof properties.messageId === 'string' && properties.messageId.length > 0, `${type} messageId`);
      expect(/^00-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$/.test(String(properties.headers?.traceparent)), `${type} W3C traceparent header: ${String(properties.headers?.traceparent)}`);
      expect(typeof body.occurredAt === 'string', `${type} occurredAt`);
    }
    const cartCheckedOut = JSON.parse(seen.get('CartCheckedOut')!.content.toString()) as Record<string, unknown>;
    for (const field of ['checkoutId', 'orderId', 'userId', 'items', 'total']) expect(field in cartCheckedOut, `CartCheckedOut.${field}`);
    expect(cartCheckedOut.userId === devUserObjectId(`smoke-${run}-events`), 'CartCheckedOut.userId is the token oid');

    // Every event of the order delivered again, as a broker redelivers: no second order, payment or stock change.
    const before = { order: (await call(`/orders/${orderId}`, { token })).body, stock: (await call(`/products/${product.id}`, { token: adminToken })).body.stock };
    const confirm = await connection.createConfirmChannel();
    for (const type of ['CartCheckedOut', 'OrderCreated', 'PaymentSucceeded'] as const) {
      const message = seen.get(type)!;
      confirm.publish(eventsExchange, type, message.content, message.properties);
    }
    await confirm.waitForConfirms();
    await confirm.close();
    await sleep(3_000);
    const after = { order: (await call(`/orders/${orderId}`, { token })).body, stock: (await call(`/products/${product.id}`, { token: adminToken })).body.stock };
    expect(JSON.stringify(after) === JSON.stringify(before), `redelivered events change nothing: ${JSON.stringify(before)} -> ${JSON.stringify(after)}`);
    const listed = await call('/orders', { token });
    expect(listed.body.items.length === 1, 'still one order', listed);
  } finally {
    await connection.close();
  }
});

check('queues: durable, each with its dead-letter queue; an unparsable or invalid message goes to <queue>.dlq at once with the reason', async () => {
  const connection = await amqp.connect(process.env.RABBITMQ_URL!);
  try {
    for (const declaration of queueDeclarations()) {
      const channel = await connection.createChannel();
      channel.on('error', () => undefined);
      // Declaring with the same arguments succeeds only when the queue exists with exactly those (else 406).
      await channel.assertQueue(declaration.name, { durable: true, arguments: declaration.arguments }).catch((error: Error) => {
        throw new CheckFailed(`${declaration.name} as the topology declares it: ${error.message}`);
      });
      await channel.close();
    }
    const channel = await connection.createConfirmChannel();
    const poison = [
      { queue: queues.cartCheckedOut, messageId: `smoke-${run}-unparsable`, type: 'CartCheckedOut', body: '{"not json' },
      { queue: queues.paymentProcessed, messageId: `smoke-${run}-invalid`, type: 'PaymentSucceeded', body: JSON.stringify({ orderId: 'not-a-uuid', occurredAt: 'yesterday' }) },
    ];
    for (const { queue, messageId, type, body } of poison) channel.sendToQueue(queue, Buffer.from(body), { messageId, type, persistent: true, contentType: 'application/json' });
    await channel.waitForConfirms();
    await channel.close();
    for (const { queue, messageId } of poison) {
      const listed = await eventually(
        `${messageId} in ${deadLetterQueueOf(queue)}`,
        async () => {
          const { stdout } = await promisify(execFile)(join(projectRoot, 'node_modules/.bin/tsx'), [join(projectRoot, 'scripts/dead-letters.ts'), 'list', queue], { cwd: projectRoot, env: process.env });
          return stdout
            .split('\n')
            .filter(Boolean)
            .map((line) => JSON.parse(line) as { messageId?: string; reason?: string })
            .find((letter) => letter.messageId === messageId);
        },
        (letter) => letter !== undefined,
      );
      expect(typeof listed?.reason === 'string' && listed.reason.length > 0, `a dead-letter reason: ${JSON.stringify(listed)}`);
    }
  } finally {
    await connection.close();
  }
});

const selected = values.only ? checks.filter(([name]) => name.includes(values.only!)) : checks;
let failed = 0;
const started = Date.now();
for (const [name, body] of selected) {
  const began = Date.now();
  try {
    await body();
    console.log(`ok   ${name} (${Date.now() - began} ms)`);
  } catch (error) {
    failed++;
    console.log(`FAIL ${name}\n     ${error instanceof CheckFailed ? error.message : error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
  }
}
console.log(`${selected.length - failed} of ${selected.length} contract checks passed against ${api} in ${((Date.now() - started) / 1000).toFixed(1)} s`);
process.exit(Math.min(failed, 100));
