import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { errorStatus, type ErrorCode } from '../../src/errors.js';
import { startShop, type Shop } from '../support/shop.js';

type Schema = Record<string, unknown> & { properties?: Record<string, Schema>; required?: string[]; additionalProperties?: unknown; $ref?: string };
interface Operation {
  operationId: string;
  summary: string;
  security: Array<Record<string, string[]>>;
  parameters?: Array<{ name: string; in: string; required: boolean; schema: Schema }>;
  requestBody?: { required: boolean; content: Record<string, { schema: Schema }> };
  responses: Record<
    string,
    { description: string; content?: Record<string, { schema: Schema }>; headers?: Record<string, { schema: Schema }>; 'x-error-codes'?: ErrorCode[] }
  >;
}
interface Document {
  openapi: string;
  info: { title: string; version: string };
  servers: Array<{ url: string }>;
  paths: Record<string, Record<string, Operation>>;
  components: { schemas: Record<string, Schema>; securitySchemes: Record<string, Record<string, unknown>> };
}

/** The contract's routes (base /api) and who may call them. */
const contract: Array<[method: string, path: string, access: 'anonymous' | 'authenticated' | 'catalog' | 'Products.Write']> = [
  ['get', '/health', 'anonymous'],
  ['get', '/products', 'catalog'],
  ['get', '/products/{id}', 'catalog'],
  ['get', '/categories', 'catalog'],
  ['post', '/categories', 'Products.Write'],
  ['post', '/products/{id}/images', 'Products.Write'],
  ['delete', '/products/{id}/images/{n}', 'Products.Write'],
  ['post', '/products', 'Products.Write'],
  ['put', '/products/{id}', 'Products.Write'],
  ['delete', '/products/{id}', 'Products.Write'],
  ['get', '/cart', 'authenticated'],
  ['post', '/cart/items', 'authenticated'],
  ['put', '/cart/items/{productId}', 'authenticated'],
  ['delete', '/cart/items/{productId}', 'authenticated'],
  ['post', '/cart/checkout', 'authenticated'],
  ['get', '/orders', 'authenticated'],
  ['get', '/orders/{id}', 'authenticated'],
];

let shop: Shop;
let document: Document;

const operations = () => Object.entries(document.paths).flatMap(([path, item]) => Object.entries(item).map(([method, op]) => ({ path, method, op })));

beforeAll(async () => {
  shop = await startShop();
  const response = await shop.call('/openapi.json');
  expect(response.status).toBe(200);
  expect(response.headers.get('content-type')).toMatch(/^application\/json/);
  document = (await response.json()) as Document;
});

afterAll(async () => {
  await shop?.stop();
});

describe('GET /api/openapi.json', () => {
  it('when fetched without a token, then it is an OpenAPI 3.1 document served under /api', () => {
    expect(document.openapi).toBe('3.1.0');
    expect(document.info).toMatchObject({ title: expect.any(String), version: expect.any(String) });
    expect(document.servers).toEqual([{ url: '/api' }]);
  });

  it.each(contract)('when the contract names %s %s, then the document has it with its access', (method, path, access) => {
    const op = document.paths[path]?.[method];
    expect(op, `${method} ${path}`).toBeDefined();
    if (access === 'anonymous') expect(op!.security).toEqual([]);
    // The catalog's reads: a token, or none when CATALOG_PUBLIC_READ is true (the empty requirement).
    else if (access === 'catalog') expect(op!.security).toEqual([{ bearerAuth: [] }, {}]);
    else expect(op!.security).toEqual([{ bearerAuth: access === 'authenticated' ? [] : [access] }]);
    if (access !== 'anonymous') expect(op!.responses['401']).toBeDefined();
    if (access === 'Products.Write') expect(op!.responses['403']).toBeDefined();
  });

  it('when the document is read, then it lists the API docs too and operation ids are unique', () => {
    expect(document.paths['/openapi.json']?.get?.security).toEqual([]);
    expect(document.paths['/docs']?.get?.security).toEqual([]);
    const ids = operations().map(({ op }) => op.operationId);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('when a path has template parameters, then each is declared as a required path parameter', () => {
    for (const { path, op } of operations()) {
      const names = [...path.matchAll(/\{(\w+)\}/g)].map((match) => match[1]);
      expect((op.parameters ?? []).filter((p) => p.in === 'path').map((p) => p.name)).toEqual(names);
      for (const p of op.parameters ?? []) if (p.in === 'path') expect(p.required).toBe(true);
    }
  });

  it('when a list is paginated, then limit (1..100, default 20) and cursor are query parameters', () => {
    for (const [path, filters] of [
      ['/products', ['category', 'maxPrice', 'minPrice', 'q', 'sort']],
      ['/orders', []],
    ] as const) {
      const query = document.paths[path]!.get!.parameters!.filter((p) => p.in === 'query');
      expect(query.map((p) => p.name).sort()).toEqual(['cursor', 'limit', ...filters].sort());
      expect(query.find((p) => p.name === 'limit')!.schema).toMatchObject({ type: 'integer', minimum: 1, maximum: 100, default: 20 });
      expect(query.every((p) => p.required === false)).toBe(true);
    }
  });

  it('when an operation takes a JSON body, then its schema rejects unknown fields', () => {
    const withBodies = operations().filter(({ op }) => op.requestBody?.content['application/json']);
    expect(withBodies.map(({ method, path }) => `${method} ${path}`).sort()).toEqual(
      ['post /cart/checkout', 'post /cart/items', 'post /categories', 'post /products', 'put /cart/items/{productId}', 'put /products/{id}'].sort(),
    );
    // Checkout's optional body is free-form: it only feeds the Idempotency-Key fingerprint.
    for (const { op } of withBodies.filter(({ path }) => path !== '/cart/checkout')) {
      const schema = op.requestBody!.content['application/json']!.schema;
      expect(schema.type).toBe('object');
      expect(schema.additionalProperties).toBe(false);
      expect(schema).not.toHaveProperty('$schema');
    }
    expect(document.paths['/cart/checkout']!.post!.requestBody!.required).toBe(false);
  });

  it('when an image is uploaded, then the document gives the raw body types, the 5 MiB limit and the 415 code', () => {
    const op = document.paths['/products/{id}/images']!.post!;
    expect(Object.keys(op.requestBody!.content).sort()).toEqual(['image/jpeg', 'image/png', 'image/webp']);
    expect(op.responses['413']).toBeDefined();
    expect(op.responses['415']).toMatchObject({ 'x-error-codes': ['unsupported_media_type'] });
    expect(document.paths['/products']!.get!.parameters!.find((p) => p.name === 'sort')!.schema).toMatchObject({ enum: ['relevance', 'newest', 'price', '-price', 'name'] });
  });

  it('when the product body is documented, then it says what the validator checks', () => {
    const schema = document.paths['/products']!.post!.requestBody!.content['application/json']!.schema;
    expect(schema.required?.sort()).toEqual(['name', 'price', 'stock']);
    expect(schema.properties!.name).toMatchObject({ type: 'string', minLength: 1, maxLength: 200 });
    expect(schema.properties!.price).toMatchObject({ type: 'number', minimum: 0 });
    expect(schema.properties!.stock).toMatchObject({ type: 'integer', minimum: 0 });
  });

  it('when responses are documented, then successes carry schemas and every error is problem+json referring to Problem', () => {
    expect(document.components.schemas.Problem!.required).toEqual(expect.arrayContaining(['type', 'title', 'status', 'detail']));
    for (const { path, method, op } of operations()) {
      expect(Object.keys(op.responses).length, `${method} ${path}`).toBeGreaterThan(0);
      for (const [status, response] of Object.entries(op.responses)) {
        expect(response.description).toEqual(expect.any(String));
        if (Number(status) >= 400) expect(response.content).toEqual({ 'application/problem+json': { schema: { $ref: '#/components/schemas/Problem' } } });
      }
    }
    expect(document.paths['/products']!.post!.responses['201']!.content!['application/json']!.schema.properties).toHaveProperty('price');
    expect(document.paths['/cart']!.get!.responses['200']!.content!['application/json']!.schema.properties).toHaveProperty('total');
  });

  it('when an error response is documented, then it lists the problem codes it can carry, each of that status', () => {
    for (const { path, method, op } of operations()) {
      for (const [status, response] of Object.entries(op.responses)) {
        if (Number(status) < 400 || path === '/health') continue;
        const codes = response['x-error-codes'];
        expect(codes?.length, `${method} ${path} ${status}`).toBeGreaterThan(0);
        for (const code of codes!) expect(errorStatus[code], `${method} ${path} ${status} ${code}`).toBe(Number(status));
      }
    }
    expect(document.paths['/cart/checkout']!.post!.responses['409']!['x-error-codes']).toEqual(['cart_empty', 'cart_products_unavailable', 'checkout_in_progress']);
    expect(document.paths['/cart/checkout']!.post!.responses['422']!['x-error-codes']).toEqual(['idempotency_key_reused', 'order_total_too_large']);
    expect(document.paths['/products/{id}']!.put!.responses['412']!['x-error-codes']).toEqual(['product_version_mismatch']);
    expect(document.components.schemas.Problem!.properties!.code!.enum).toEqual(Object.keys(errorStatus));
  });

  it('when a route acts for a user, then its 403 names user_token_required; reading an order by id stays open to app tokens', () => {
    for (const [method, path] of [['get', '/cart'], ['post', '/cart/items'], ['post', '/cart/checkout'], ['get', '/orders']] as const) {
      expect(document.paths[path]![method]!.responses['403']!['x-error-codes'], `${method} ${path}`).toContain('user_token_required');
    }
    expect(document.paths['/orders/{id}']!.get!.responses['403']!['x-error-codes']).toEqual(['forbidden']);
  });

  it('when a client is generated from the document, then checkout takes an optional Idempotency-Key header', () => {
    // openapi-typescript turns `in: header` parameters into `parameters.header`; before, checkout had none.
    const header = document.paths['/cart/checkout']!.post!.parameters!.filter((p) => p.in === 'header');
    expect(header).toEqual([expect.objectContaining({ name: 'Idempotency-Key', in: 'header', required: false })]);
    expect(header[0]!.schema).toMatchObject({ type: 'string', pattern: expect.any(String) });
    const pattern = new RegExp(String(header[0]!.schema.pattern));
    expect(['a', 'k'.repeat(255), 'retry-7f3a~!'].every((key) => pattern.test(key))).toBe(true);
    expect(['', 'k'.repeat(256), 'with space', 'é'].some((key) => pattern.test(key))).toBe(false);
  });

  it('when a product is read or changed, then GET answers an ETag and PUT and DELETE take an optional If-Match', () => {
    expect(document.paths['/products/{id}']!.get!.responses['200']!.headers).toHaveProperty('ETag');
    for (const method of ['put', 'delete']) {
      const ifMatch = document.paths['/products/{id}']![method]!.parameters!.filter((p) => p.in === 'header');
      expect(ifMatch, method).toEqual([expect.objectContaining({ name: 'If-Match', required: false })]);
    }
    const putBody = document.paths['/products/{id}']!.put!.requestBody!.content['application/json']!.schema;
    expect(putBody.required?.sort()).toEqual(['name', 'price']);
  });

  it('when security is documented, then bearerAuth is an HTTP bearer JWT scheme naming the Entra roles', () => {
    const scheme = document.components.securitySchemes.bearerAuth!;
    expect(scheme).toMatchObject({ type: 'http', scheme: 'bearer', bearerFormat: 'JWT' });
    expect(scheme.description).toMatch(/Products\.Write/);
    expect(scheme.description).toMatch(/Orders\.Read\.All/);
  });

  it('when every $ref is followed, then it resolves inside the document', () => {
    const refs = [...JSON.stringify(document).matchAll(/"\$ref":"([^"]+)"/g)].map((match) => match[1]!);
    expect(refs.length).toBeGreaterThan(0);
    for (const ref of refs) {
      expect(ref.startsWith('#/')).toBe(true);
      const target = ref
        .slice(2)
        .split('/')
        .reduce<unknown>((node, key) => (node as Record<string, unknown> | undefined)?.[key], document);
      expect(target, ref).toBeDefined();
    }
  });
});

describe('GET /api/docs', () => {
  it('when fetched without a token, then it is a self-contained HTML page listing every operation', async () => {
    const response = await shop.call('/docs');
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^text\/html/);
    expect(response.headers.get('content-security-policy')).toMatch(/default-src 'none'/);
    const html = await response.text();
    expect(html).toMatch(/^<!doctype html>/i);
    expect(html).not.toMatch(/<script/i);
    expect(html).not.toMatch(/(src|href)="(https?:)?\/\//i);
    for (const { path, method, op } of operations()) {
      expect(html).toContain(`${method.toUpperCase()}</span> <code>/api${path}</code>`);
      expect(html).toContain(op.summary.replace(/&/g, '&#38;').replace(/'/g, '&#39;').replace(/"/g, '&#34;').replace(/</g, '&#60;').replace(/>/g, '&#62;'));
    }
    expect(html).toContain('Requires the app role `Products.Write`.');
    expect(html).toContain('&#34;additionalProperties&#34;: false');
  });

  it('when the docs are asked for with a bad token, then they are still served (anonymous)', async () => {
    expect((await shop.call('/docs', { token: 'garbage' })).status).toBe(200);
    expect((await shop.call('/openapi.json', { token: 'garbage' })).status).toBe(200);
  });
});
