import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { devUserObjectId } from '../../src/dev-issuer/index.js';
import { uuidv7 } from '../../src/domain/ids.js';
import { aProductBody } from '../support/builders.js';
import { startShop, uniqueUser, type Shop } from '../support/shop.js';

interface Cart {
  items: Array<{ productId: string; name: string; unitPrice: number; quantity: number; lineTotal: number }>;
  total: number;
}

let shop: Shop;
let redis: Redis;
let writer: string;

beforeAll(async () => {
  shop = await startShop();
  redis = new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379', { lazyConnect: true });
  await redis.connect();
  writer = await shop.token({ roles: ['Products.Write'] });
});

afterAll(async () => {
  redis?.disconnect();
  await shop?.stop();
});

async function aProductId(overrides: Parameters<typeof aProductBody>[0] = {}): Promise<string> {
  const response = await shop.call('/products', { method: 'POST', token: writer, body: aProductBody(overrides) });
  expect(response.status).toBe(201);
  return ((await response.json()) as { id: string }).id;
}

/** A fresh user: its token and its object id (the cart's key). */
async function aShopper(): Promise<{ token: string; oid: string }> {
  const user = uniqueUser('cart');
  return { token: await shop.token({ user }), oid: devUserObjectId(user) };
}

async function cartCall(token: string, path: string, method = 'GET', body?: unknown): Promise<Cart> {
  const response = await shop.call(path, { method, token, body });
  expect(response.status, await response.clone().text()).toBe(200);
  return (await response.json()) as Cart;
}

async function expectProblem(response: Response, status: number): Promise<string> {
  expect(response.status).toBe(status);
  expect(response.headers.get('content-type')).toMatch(/^application\/problem\+json/);
  const problem = (await response.json()) as { type: string; title: string; status: number; detail: string };
  expect(problem).toMatchObject({ type: expect.any(String), title: expect.any(String), status, detail: expect.any(String) });
  return problem.detail;
}

describe('cart', () => {
  it('when a new user reads the cart, then it is empty', async () => {
    const { token } = await aShopper();
    expect(await cartCall(token, '/cart')).toEqual({ items: [], total: 0 });
  });

  it('when a product is added twice, then the quantities merge on one line with current name, price and totals', async () => {
    const { token } = await aShopper();
    const productId = await aProductId({ name: 'Merged mug', price: 19.99 });
    await cartCall(token, '/cart/items', 'POST', { productId });
    const cart = await cartCall(token, '/cart/items', 'POST', { productId, quantity: 2 });
    expect(cart).toEqual({ items: [{ productId, name: 'Merged mug', unitPrice: 19.99, quantity: 3, lineTotal: 59.97 }], total: 59.97 });
  });

  it('when a product is repriced after it was added, then the cart shows the new price', async () => {
    const { token } = await aShopper();
    const productId = await aProductId({ price: 1 });
    await cartCall(token, '/cart/items', 'POST', { productId, quantity: 2 });
    expect((await shop.call(`/products/${productId}`, { method: 'PUT', token: writer, body: aProductBody({ name: 'Dearer', price: 2.5 }) })).status).toBe(200);
    expect(await cartCall(token, '/cart')).toEqual({ items: [{ productId, name: 'Dearer', unitPrice: 2.5, quantity: 2, lineTotal: 5 }], total: 5 });
  });

  it('when a quantity is set, then it replaces the line; 0 removes the line', async () => {
    const { token } = await aShopper();
    const [a, b] = [await aProductId({ price: 1 }), await aProductId({ price: 2 })];
    await cartCall(token, '/cart/items', 'POST', { productId: a, quantity: 5 });
    await cartCall(token, '/cart/items', 'POST', { productId: b });
    expect((await cartCall(token, `/cart/items/${a}`, 'PUT', { quantity: 2 })).total).toBe(4);
    const cart = await cartCall(token, `/cart/items/${a}`, 'PUT', { quantity: 0 });
    expect(cart.items.map((item) => item.productId)).toEqual([b]);
    expect(cart.total).toBe(2);
  });

  it('when a line is removed, then only that line goes; removing it again is harmless', async () => {
    const { token } = await aShopper();
    const [a, b] = [await aProductId(), await aProductId()];
    await cartCall(token, '/cart/items', 'POST', { productId: a });
    await cartCall(token, '/cart/items', 'POST', { productId: b });
    expect((await cartCall(token, `/cart/items/${a}`, 'DELETE')).items.map((item) => item.productId)).toEqual([b]);
    expect((await cartCall(token, `/cart/items/${a}`, 'DELETE')).items).toHaveLength(1);
  });

  it('when an unknown or malformed product is added or set, then it is a 404 and the cart is unchanged', async () => {
    const { token } = await aShopper();
    await expectProblem(await shop.call('/cart/items', { method: 'POST', token, body: { productId: uuidv7() } }), 404);
    await expectProblem(await shop.call('/cart/items', { method: 'POST', token, body: { productId: "x' OR '1'='1" } }), 404);
    await expectProblem(await shop.call(`/cart/items/${uuidv7()}`, { method: 'PUT', token, body: { quantity: 1 } }), 404);
    await expectProblem(await shop.call('/cart/items/not-a-uuid', { method: 'PUT', token, body: { quantity: 1 } }), 404);
    expect(await cartCall(token, '/cart')).toEqual({ items: [], total: 0 });
  });

  it.each([
    ['quantity 0', { quantity: 0 }],
    ['quantity 100', { quantity: 100 }],
    ['a string quantity', { quantity: '1' }],
    ['no productId', { productId: undefined }],
    ['a user id', { userId: 'someone-else' }],
  ])('when the add body has %s, then it is a 400', async (_case, overrides) => {
    const { token } = await aShopper();
    const body = { productId: uuidv7(), ...overrides };
    await expectProblem(await shop.call('/cart/items', { method: 'POST', token, body }), 400);
  });

  it('when a line would pass 99, then it is a 409 and the line keeps its quantity', async () => {
    const { token } = await aShopper();
    const productId = await aProductId({ stock: 1_000 });
    await cartCall(token, '/cart/items', 'POST', { productId, quantity: 98 });
    expect(await expectProblem(await shop.call('/cart/items', { method: 'POST', token, body: { productId, quantity: 2 } }), 409)).toMatch(/99/);
    expect((await cartCall(token, '/cart/items', 'POST', { productId })).items[0]!.quantity).toBe(99);
    await expectProblem(await shop.call('/cart/items', { method: 'POST', token, body: { productId } }), 409);
    await expectProblem(await shop.call(`/cart/items/${productId}`, { method: 'PUT', token, body: { quantity: 100 } }), 400);
  });

  it('when an add would take a line beyond the stock, then it is 409 insufficient_stock with available, and the cart is unchanged', async () => {
    const { token } = await aShopper();
    const productId = await aProductId({ stock: 35 });
    const refused = await shop.call('/cart/items', { method: 'POST', token, body: { productId, quantity: 60 } });
    expect(refused.status).toBe(409);
    expect(refused.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(await refused.json()).toMatchObject({ status: 409, code: 'insufficient_stock', available: 35, detail: expect.any(String) });
    expect(await cartCall(token, '/cart')).toEqual({ items: [], total: 0 });
    await cartCall(token, '/cart/items', 'POST', { productId, quantity: 30 });
    expect(await (await shop.call('/cart/items', { method: 'POST', token, body: { productId, quantity: 6 } })).json()).toMatchObject({ code: 'insufficient_stock', available: 35 });
    expect((await cartCall(token, '/cart/items', 'POST', { productId, quantity: 5 })).items[0]!.quantity).toBe(35);
  });

  it('when a quantity beyond the stock is set, then it is 409 insufficient_stock and the line keeps its quantity; the stock itself fits', async () => {
    const { token } = await aShopper();
    const productId = await aProductId({ stock: 35 });
    await cartCall(token, '/cart/items', 'POST', { productId, quantity: 2 });
    expect(await (await shop.call(`/cart/items/${productId}`, { method: 'PUT', token, body: { quantity: 36 } })).json()).toMatchObject({ code: 'insufficient_stock', available: 35 });
    expect((await cartCall(token, '/cart')).items[0]!.quantity).toBe(2);
    expect((await cartCall(token, `/cart/items/${productId}`, 'PUT', { quantity: 35 })).items[0]!.quantity).toBe(35);
  });

  it('when the stock is 0 or was just lowered, then adding is refused with the stock as it is now', async () => {
    const { token } = await aShopper();
    const soldOut = await aProductId({ stock: 0 });
    expect(await (await shop.call('/cart/items', { method: 'POST', token, body: { productId: soldOut } })).json()).toMatchObject({ code: 'insufficient_stock', available: 0 });
    const productId = await aProductId({ stock: 10 });
    await cartCall(token, '/cart/items', 'POST', { productId, quantity: 2 });
    const lowered = await shop.call(`/products/${productId}`, { method: 'PUT', token: writer, body: aProductBody({ stock: 2 }) });
    expect(lowered.status).toBe(200);
    expect(await (await shop.call('/cart/items', { method: 'POST', token, body: { productId } })).json()).toMatchObject({ code: 'insufficient_stock', available: 2 });
  });

  it('when parallel adds would pass the stock, then exactly the ones that fit succeed and the rest are insufficient_stock', async () => {
    const { token } = await aShopper();
    const productId = await aProductId({ stock: 20 });
    const responses = await Promise.all(Array.from({ length: 12 }, () => shop.call('/cart/items', { method: 'POST', token, body: { productId, quantity: 2 } })));
    expect(responses.filter((response) => response.status === 200)).toHaveLength(10);
    expect(responses.filter((response) => response.status === 409)).toHaveLength(2);
    expect((await cartCall(token, '/cart')).items[0]!.quantity).toBe(20);
  });

  it('when the cart has 100 lines, then a 101st product is a 409 but existing lines still change', async () => {
    const { token } = await aShopper();
    const ids: string[] = [];
    for (let batch = 0; batch < 101; batch += 20) {
      ids.push(...(await Promise.all(Array.from({ length: Math.min(20, 101 - batch) }, () => aProductId({ price: 0.01 })))));
    }
    for (let batch = 0; batch < 100; batch += 20) {
      await Promise.all(ids.slice(batch, batch + 20).map((productId) => cartCall(token, '/cart/items', 'POST', { productId })));
    }
    expect(await expectProblem(await shop.call('/cart/items', { method: 'POST', token, body: { productId: ids[100] } }), 409)).toMatch(/100/);
    await expectProblem(await shop.call(`/cart/items/${ids[100]}`, { method: 'PUT', token, body: { quantity: 1 } }), 409);
    const cart = await cartCall(token, '/cart/items', 'POST', { productId: ids[0] });
    expect(cart.items).toHaveLength(100);
    expect(cart.total).toBe(1.01);
  });

  it("when two users fill their carts, then each sees only their own (the user comes from the token)", async () => {
    const [alice, bob] = [await aShopper(), await aShopper()];
    const productId = await aProductId();
    await cartCall(alice.token, '/cart/items', 'POST', { productId, quantity: 4 });
    expect(await cartCall(bob.token, '/cart')).toEqual({ items: [], total: 0 });
    await cartCall(bob.token, `/cart/items/${productId}`, 'DELETE');
    expect((await cartCall(alice.token, '/cart')).items[0]!.quantity).toBe(4);
  });

  it('when one user adds the same product from 50 parallel requests, then no add is lost', async () => {
    const { token } = await aShopper();
    const productId = await aProductId({ stock: 1_000 });
    const responses = await Promise.all(Array.from({ length: 50 }, () => shop.call('/cart/items', { method: 'POST', token, body: { productId, quantity: 1 } })));
    expect(responses.map((response) => response.status)).toEqual(Array(50).fill(200));
    expect((await cartCall(token, '/cart')).items[0]!.quantity).toBe(50);
  });

  it('when parallel adds would pass 99, then exactly the ones that fit succeed and the rest are 409', async () => {
    const { token } = await aShopper();
    const productId = await aProductId({ stock: 1_000 });
    const responses = await Promise.all(Array.from({ length: 40 }, () => shop.call('/cart/items', { method: 'POST', token, body: { productId, quantity: 3 } })));
    const statuses = responses.map((response) => response.status);
    expect(statuses.filter((status) => status === 200)).toHaveLength(33);
    expect(statuses.filter((status) => status === 409)).toHaveLength(7);
    expect((await cartCall(token, '/cart')).items[0]!.quantity).toBe(99);
  });

  it('when the cart changes, then its Redis keys live 30 days from that change', async () => {
    const { token, oid } = await aShopper();
    const productId = await aProductId();
    await cartCall(token, '/cart/items', 'POST', { productId });
    const thirtyDays = 30 * 24 * 60 * 60;
    const ttl = await redis.ttl(`cart:{${oid}}:items`);
    expect(ttl).toBeGreaterThan(thirtyDays - 60);
    expect(ttl).toBeLessThanOrEqual(thirtyDays);
    expect(await redis.ttl(`cart:{${oid}}:version`)).toBeGreaterThan(thirtyDays - 60);
    expect(await redis.hget(`cart:{${oid}}:items`, productId)).toBe('1');

    // A later change renews the expiry.
    await redis.expire(`cart:{${oid}}:items`, 1_000);
    await cartCall(token, `/cart/items/${productId}`, 'PUT', { quantity: 2 });
    expect(await redis.ttl(`cart:{${oid}}:items`)).toBeGreaterThan(thirtyDays - 60);
  });

  it('when there is no token, then every cart route is a 401', async () => {
    const id = uuidv7();
    for (const [method, path, body] of [
      ['GET', '/cart', undefined],
      ['POST', '/cart/items', { productId: id }],
      ['PUT', `/cart/items/${id}`, { quantity: 1 }],
      ['DELETE', `/cart/items/${id}`, undefined],
    ] as const) {
      await expectProblem(await shop.call(path, { method, body }), 401);
    }
  });
});
