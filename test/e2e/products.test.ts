import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { uuidv7 } from '../../src/domain/ids.js';
import { aProductBody } from '../support/builders.js';
import { addToCart, productStock, waitForFinalOrder } from '../support/pipeline.js';
import { startShop, type Shop } from '../support/shop.js';

interface ProductJson {
  id: string;
  name: string;
  description: string;
  price: number;
  stock: number;
  createdAt: string;
  updatedAt: string;
  version: number;
}

let shop: Shop;
let db: pg.Pool;
let writer: string;
let reader: string;

beforeAll(async () => {
  shop = await startShop();
  db = new pg.Pool({ connectionString: process.env.POSTGRES_URL ?? 'postgres://postgres:postgres@127.0.0.1:5432/ecommerce', max: 2 });
  [writer, reader] = await Promise.all([shop.token({ roles: ['Products.Write'] }), shop.token()]);
});

afterAll(async () => {
  await db?.end();
  await shop?.stop();
});

async function create(overrides: Parameters<typeof aProductBody>[0] = {}): Promise<ProductJson> {
  const response = await shop.call('/products', { method: 'POST', token: writer, body: aProductBody(overrides) });
  expect(response.status).toBe(201);
  return (await response.json()) as ProductJson;
}

describe('product reads are cached and follow every change', () => {
  it('when a product is changed directly in the database, then the API shows it within milliseconds, well inside the 1 s cache bound', async () => {
    const product = await create({ price: 5 });
    const price = async () => ((await (await shop.call(`/products/${product.id}`, { token: reader })).json()) as ProductJson).price;
    expect(await price()).toBe(5);
    expect(await price()).toBe(5); // served from the cache
    const changedAt = Date.now();
    await db.query('UPDATE products SET price = 6 WHERE id = $1', [product.id]);
    await expect.poll(price, { timeout: 400, interval: 10 }).toBe(6);
    expect(Date.now() - changedAt).toBeLessThan(500);
    await db.query('DELETE FROM products WHERE id = $1', [product.id]);
    await expect.poll(async () => (await shop.call(`/products/${product.id}`, { token: reader })).status, { timeout: 400, interval: 10 }).toBe(404);
  });
});

async function expectProblem(response: Response, status: number): Promise<{ detail: string; code?: string; errors?: Array<{ path: string }> }> {
  expect(response.status).toBe(status);
  expect(response.headers.get('content-type')).toMatch(/^application\/problem\+json/);
  const problem = (await response.json()) as { type: string; title: string; status: number; detail: string };
  expect(problem).toMatchObject({ type: expect.any(String), title: expect.any(String), status, detail: expect.any(String) });
  return problem;
}

describe('POST /products', () => {
  it('when a writer creates a product, then it is 201 with the product and a Location that serves it', async () => {
    const body = aProductBody({ price: 19.99, stock: 7, description: 'Blue' });
    const response = await shop.call('/products', { method: 'POST', token: writer, body });
    expect(response.status).toBe(201);
    const product = (await response.json()) as ProductJson;
    expect(product).toEqual({
      id: expect.stringMatching(/^[0-9a-f-]{36}$/),
      name: body.name,
      description: 'Blue',
      price: 19.99,
      stock: 7,
      category: null,
      images: [],
      createdAt: expect.any(String),
      updatedAt: expect.any(String),
      version: 1,
    });
    expect(response.headers.get('location')).toBe(`/api/products/${product.id}`);
    expect(response.headers.get('etag')).toBe('"1"');
    const fetched = await fetch(new URL(response.headers.get('location')!, shop.api), { headers: { authorization: `Bearer ${reader}` } });
    expect(await fetched.json()).toEqual(product);
  });

  it('when prices have 0, 1 or 2 decimals, then the JSON number keeps its exact value and Postgres holds NUMERIC(12,2)', async () => {
    for (const price of [19.99, 0.1, 5, 0, 663547662.67, 9999999999.99]) {
      const product = await create({ price });
      const raw = await (await shop.call(`/products/${product.id}`, { token: reader })).text();
      expect(raw).toContain(`"price":${price}`);
      const { rows } = await db.query<{ price: string; type: string }>('SELECT price::text AS price, pg_typeof(price)::text AS type FROM products WHERE id = $1', [product.id]);
      expect(rows[0]).toEqual({ price: price.toFixed(2), type: 'numeric' });
    }
    const { rows } = await db.query("SELECT numeric_precision, numeric_scale FROM information_schema.columns WHERE table_name = 'products' AND column_name = 'price'");
    expect(rows[0]).toEqual({ numeric_precision: 12, numeric_scale: 2 });
  });

  it.each([
    ['an empty name', { name: '' }, 'body.name'],
    ['a 201-character name', { name: 'x'.repeat(201) }, 'body.name'],
    ['a price with 3 decimals', { price: 1.005 }, 'body.price'],
    ['a negative price', { price: -1 }, 'body.price'],
    ['a negative stock', { stock: -1 }, 'body.stock'],
    ['a fractional stock', { stock: 2.5 }, 'body.stock'],
    ['a price as a string', { price: '19.99' }, 'body.price'],
    ['a name as a number', { name: 5 }, 'body.name'],
    ['a NUL in the name', { name: 'a\u0000b' }, 'body.name'],
    ['an unknown field', { colour: 'red' }, 'body'],
  ])('when the body has %s, then it is a 400 naming %s', async (_case, overrides, path) => {
    const problem = await expectProblem(await shop.call('/products', { method: 'POST', token: writer, body: aProductBody(overrides) }), 400);
    expect(problem.errors?.map((error) => error.path)).toContain(path);
  });

  it.each([
    ['a JSON array', []],
    ['a JSON string', 'x'],
    ['null', null],
  ])('when the body is %s, then it is a 400', async (_case, body) => {
    await expectProblem(await shop.call('/products', { method: 'POST', token: writer, body: JSON.stringify(body) }), 400);
  });

  it('when the caller lacks Products.Write, then it is a 403 and nothing is created', async () => {
    const name = `forbidden ${uuidv7()}`;
    await expectProblem(await shop.call('/products', { method: 'POST', token: reader, body: aProductBody({ name }) }), 403);
    const { rowCount } = await db.query('SELECT 1 FROM products WHERE name = $1', [name]);
    expect(rowCount).toBe(0);
  });

  it('when there is no token or a bad one, then it is a 401 with a Bearer challenge', async () => {
    for (const token of [undefined, 'not-a-jwt', `${writer.slice(0, -4)}AAAA`]) {
      const response = await shop.call('/products', { method: 'POST', token, body: aProductBody() });
      expect(response.headers.get('www-authenticate')).toMatch(/^Bearer .*error="invalid_token"/);
      await expectProblem(response, 401);
    }
  });
});

describe('GET /products/{id}', () => {
  it('when the product exists, then any signed-in caller gets it with its version as a strong ETag', async () => {
    const product = await create();
    const response = await shop.call(`/products/${product.id}`, { token: reader });
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual(product);
    expect(response.headers.get('etag')).toBe(`"${product.version}"`);
  });

  it.each([uuidv7(), 'nope', "1' OR '1'='1", encodeURIComponent('"; DROP TABLE products; --')])('when the id is %s, then it is a 404', async (id) => {
    await expectProblem(await shop.call(`/products/${id}`, { token: reader }), 404);
  });

  it('when there is no token, then it is a 401', async () => {
    await expectProblem(await shop.call(`/products/${uuidv7()}`), 401);
  });
});

describe('PUT /products/{id}', () => {
  it('when a writer replaces a product, then every field changes and updatedAt moves on', async () => {
    const product = await create({ description: 'old' });
    const body = aProductBody({ name: 'Replaced', price: 0.5, stock: 0 });
    delete (body as { description?: string }).description;
    const response = await shop.call(`/products/${product.id}`, { method: 'PUT', token: writer, body });
    expect(response.status).toBe(200);
    const replaced = (await response.json()) as ProductJson;
    expect(replaced).toMatchObject({ id: product.id, name: 'Replaced', description: '', price: 0.5, stock: 0, createdAt: product.createdAt });
    expect(Date.parse(replaced.updatedAt)).toBeGreaterThanOrEqual(Date.parse(product.updatedAt));
    expect(await (await shop.call(`/products/${product.id}`, { token: reader })).json()).toEqual(replaced);
  });

  it('when the product does not exist, then it is a 404', async () => {
    await expectProblem(await shop.call(`/products/${uuidv7()}`, { method: 'PUT', token: writer, body: aProductBody() }), 404);
  });

  it('when the body is invalid, then it is a 400 and the product is unchanged', async () => {
    const product = await create();
    await expectProblem(await shop.call(`/products/${product.id}`, { method: 'PUT', token: writer, body: aProductBody({ price: 1.234 }) }), 400);
    expect(await (await shop.call(`/products/${product.id}`, { token: reader })).json()).toEqual(product);
  });

  it('when the caller lacks Products.Write, then it is a 403 and the product is unchanged', async () => {
    const product = await create();
    await expectProblem(await shop.call(`/products/${product.id}`, { method: 'PUT', token: reader, body: aProductBody() }), 403);
    expect(await (await shop.call(`/products/${product.id}`, { token: reader })).json()).toEqual(product);
  });
});

describe('conditional changes: ETag and If-Match', () => {
  const read = async (id: string) => {
    const response = await shop.call(`/products/${id}`, { token: reader });
    return { product: (await response.json()) as ProductJson, etag: response.headers.get('etag')! };
  };
  const put = (id: string, body: unknown, ifMatch?: string) =>
    shop.call(`/products/${id}`, { method: 'PUT', token: writer, body, headers: ifMatch === undefined ? {} : { 'if-match': ifMatch } });

  it('when an order reserves stock after the admin read the product, then the admin PUT with that ETag is a 412 and the reservation stands', async () => {
    const product = await create({ stock: 10, price: 4 });
    const { etag } = await read(product.id);
    const shopper = await shop.token();
    await addToCart(shop, shopper, product.id, 3);
    const checkout = await shop.call('/cart/checkout', { method: 'POST', token: shopper });
    expect(checkout.status).toBe(202);
    const { orderId } = (await checkout.json()) as { orderId: string };
    expect((await waitForFinalOrder(shop, shopper, orderId)).status).toBe('PAID');
    expect(await productStock(db, product.id)).toBe(7);

    const stale = await put(product.id, { name: product.name, price: 5, stock: 10 }, etag);
    const problem = await expectProblem(stale, 412);
    expect(problem.code).toBe('product_version_mismatch');
    expect(await productStock(db, product.id)).toBe(7);

    const fresh = await read(product.id);
    expect(fresh.etag).not.toBe(etag);
    const saved = await put(product.id, { name: product.name, price: 5 }, fresh.etag);
    expect(saved.status).toBe(200);
    expect(await saved.json()).toMatchObject({ price: 5, stock: 7 });
  });

  it('when a PUT leaves out stock, then the stock stays as it is and the version moves on', async () => {
    const product = await create({ stock: 10 });
    await db.query('UPDATE products SET stock = 4, version = version + 1 WHERE id = $1', [product.id]);
    const response = await put(product.id, { name: 'Price only', price: 2.5 });
    expect(response.status).toBe(200);
    const saved = (await response.json()) as ProductJson;
    expect(saved).toMatchObject({ name: 'Price only', price: 2.5, stock: 4, version: product.version + 2 });
    expect(response.headers.get('etag')).toBe(`"${saved.version}"`);
  });

  it('when If-Match names the current version, then PUT applies; when it is stale, DELETE is a 412 and the product stays', async () => {
    const product = await create();
    const { etag } = await read(product.id);
    expect((await put(product.id, aProductBody({ name: 'Renamed' }), etag)).status).toBe(200);
    await expectProblem(await shop.call(`/products/${product.id}`, { method: 'DELETE', token: writer, headers: { 'if-match': etag } }), 412);
    expect((await read(product.id)).product.name).toBe('Renamed');
    const current = await read(product.id);
    expect((await shop.call(`/products/${product.id}`, { method: 'DELETE', token: writer, headers: { 'if-match': current.etag } })).status).toBe(204);
  });

  it('when If-Match is malformed, then it is a 400 naming the header; a weak tag never matches (412)', async () => {
    const product = await create();
    const problem = await expectProblem(await put(product.id, aProductBody(), '7'), 400);
    expect(problem.errors?.map((error) => error.path)).toEqual(['header.If-Match']);
    await expectProblem(await put(product.id, aProductBody(), `W/"${product.version}"`), 412);
  });
});

describe('DELETE /products/{id}', () => {
  it('when a writer deletes a product, then it is 204 with no body and then a 404', async () => {
    const product = await create();
    const response = await shop.call(`/products/${product.id}`, { method: 'DELETE', token: writer });
    expect(response.status).toBe(204);
    expect(await response.text()).toBe('');
    await expectProblem(await shop.call(`/products/${product.id}`, { token: reader }), 404);
    await expectProblem(await shop.call(`/products/${product.id}`, { method: 'DELETE', token: writer }), 404);
  });

  it('when the caller lacks Products.Write, then it is a 403 and the product stays', async () => {
    const product = await create();
    await expectProblem(await shop.call(`/products/${product.id}`, { method: 'DELETE', token: reader }), 403);
    expect((await shop.call(`/products/${product.id}`, { token: reader })).status).toBe(200);
  });
});

describe('GET /products', () => {
  it('when pages are walked with nextCursor, then each product appears exactly once, newest first', async () => {
    // The catalog is shared and grows with every run: this test's products get a category of their own.
    const category = `page-walk-${randomUUID().slice(0, 8)}`;
    expect((await shop.call('/categories', { method: 'POST', token: writer, body: { slug: category, name: 'Page walk' } })).status).toBe(201);
    const mine: string[] = [];
    for (let i = 0; i < 7; i++) mine.push((await create({ name: `page walk ${i}`, category })).id);
    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const response = await shop.call(`/products?limit=3&category=${category}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`, { token: reader });
      expect(response.status).toBe(200);
      const page = (await response.json()) as { items: ProductJson[]; nextCursor: string | null };
      expect(page.items.length).toBeLessThanOrEqual(3);
      if (page.nextCursor) expect(page.items).toHaveLength(3);
      seen.push(...page.items.map((item) => item.id).filter((id) => mine.includes(id)));
      cursor = page.nextCursor;
      pages++;
    } while (cursor && pages < 1_000);
    // Keyset order is id order; ids made within one millisecond need not follow creation order.
    expect(seen).toEqual([...mine].sort().reverse());
    expect(pages).toBe(3);
  });

  it('when the first page is asked for, then it is 200 with items and a cursor or null', async () => {
    const page = (await (await shop.call('/products?limit=1', { token: reader })).json()) as { items: unknown[]; nextCursor: unknown };
    expect(page.items.length).toBeLessThanOrEqual(1);
    expect(page.nextCursor === null || typeof page.nextCursor === 'string').toBe(true);
  });

  it('when no limit is given, then a page has at most 20 items; limit=100 is allowed', async () => {
    const page = (await (await shop.call('/products', { token: reader })).json()) as { items: unknown[] };
    expect(page.items.length).toBeLessThanOrEqual(20);
    expect((await shop.call('/products?limit=100', { token: reader })).status).toBe(200);
  });

  it.each(['limit=0', 'limit=101', 'limit=-1', 'limit=abc', 'limit=1.5', 'cursor=', 'cursor=garbage', `cursor=${'a'.repeat(201)}`, "cursor=' OR 1=1 --"])(
    'when the query is %s, then it is a 400',
    async (query) => {
      await expectProblem(await shop.call(`/products?${query}`, { token: reader }), 400);
    },
  );

  it('when there is no token, then it is a 401', async () => {
    await expectProblem(await shop.call('/products'), 401);
  });
});
