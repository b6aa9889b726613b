import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { uuidv7 } from '../../src/domain/ids.js';
import { devUserObjectId } from '../../src/dev-issuer/index.js';
import { addToCart, createProduct, postgresUrl, productStock, waitForFinalOrder } from '../support/pipeline.js';
import { RabbitTestClient } from '../support/rabbit.js';
import { startShop, uniqueUser, type Shop } from '../support/shop.js';

describe('checkout pipeline through the local host (real Postgres, Redis, RabbitMQ)', () => {
  let shop: Shop;
  let db: pg.Pool;
  let rabbit: RabbitTestClient;

  beforeAll(async () => {
    shop = await startShop();
    db = new pg.Pool({ connectionString: postgresUrl, max: 4 });
    rabbit = await RabbitTestClient.connect();
  });

  afterAll(async () => {
    await shop?.stop();
    await db?.end();
    await rabbit?.close();
  });

  it('when a user checks out a filled cart, then the order is placed, paid and the cart emptied', async () => {
    const productId = await createProduct(shop, { price: 12.5, stock: 10 });
    const token = await shop.token();
    const productAsShown = async () => ((await (await shop.call(`/products/${productId}`, { token })).json()) as { stock: number }).stock;
    expect(await productAsShown()).toBe(10); // now in the product read cache
    await addToCart(shop, token, productId, 3);

    const response = await shop.call('/cart/checkout', { method: 'POST', token });
    expect(response.status).toBe(202);
    const accepted = (await response.json()) as { checkoutId: string; orderId: string; status: string };
    expect(accepted.status).toBe('PENDING');
    expect(response.headers.get('location')).toBe(`/api/orders/${accepted.orderId}`);
    // The storefront reads Location from another origin in Azure.
    expect(response.headers.get('access-control-expose-headers')).toBe('ETag, Location, Retry-After');
    expect(await (await shop.call('/cart', { token })).json()).toEqual({ items: [], total: 0 });

    const order = await waitForFinalOrder(shop, token, accepted.orderId);
    expect(order).toMatchObject({ id: accepted.orderId, status: 'PAID', total: 37.5, items: [{ productId, quantity: 3, unitPrice: 12.5 }] });
    expect(order.payment).toMatchObject({ status: 'SUCCEEDED', amount: 37.5 });
    expect(await productStock(db, productId)).toBe(7);
    expect(await productAsShown()).toBe(7); // the reservation cleared the cache
  });

  it('when the payment is declined, then the order ends PAYMENT_FAILED and its stock is released', async () => {
    // The simulated provider declines totals above PAYMENT_DECLINE_ABOVE (10 000 by default).
    const productId = await createProduct(shop, { price: 12_000, stock: 5 });
    const token = await shop.token();
    await addToCart(shop, token, productId, 1);
    const { orderId } = (await (await shop.call('/cart/checkout', { method: 'POST', token })).json()) as { orderId: string };

    const order = await waitForFinalOrder(shop, token, orderId);
    expect(order.status).toBe('PAYMENT_FAILED');
    expect(order.payment).toMatchObject({ status: 'FAILED', reason: 'amount exceeds the card limit' });
    expect(await productStock(db, productId)).toBe(5);
  });

  it('when the stock runs out after the cart took it, then the order is REJECTED with the reason and nothing is reserved', async () => {
    const plenty = await createProduct(shop, { price: 1, stock: 50 });
    const scarce = await createProduct(shop, { name: 'Scarce thing', price: 2, stock: 2 });
    const token = await shop.token();
    await addToCart(shop, token, plenty, 5);
    await addToCart(shop, token, scarce, 2);
    // The cart refuses more than the stock; stock sold elsewhere before this order reserves it is what rejects it.
    await db.query('UPDATE products SET stock = 1 WHERE id = $1', [scarce]);
    const { orderId } = (await (await shop.call('/cart/checkout', { method: 'POST', token })).json()) as { orderId: string };

    const order = await waitForFinalOrder(shop, token, orderId);
    expect(order.status).toBe('REJECTED');
    expect(order.reason).toContain('not enough stock for Scarce thing');
    expect(order.payment).toBeUndefined();
    expect(await productStock(db, plenty)).toBe(50);
    expect(await productStock(db, scarce)).toBe(1);
  });

  it('when the cart is empty, then checkout is refused and nothing is published', async () => {
    const token = await shop.token();
    const response = await shop.call('/cart/checkout', { method: 'POST', token });
    expect(response.status).toBe(409);
    expect(response.headers.get('content-type')).toBe('application/problem+json');
    expect(((await response.json()) as { detail: string }).detail).toContain('empty');
  });

  it('when the same Idempotency-Key is sent again, then the same answer comes back and only one order exists', async () => {
    const productId = await createProduct(shop, { price: 3, stock: 10 });
    const user = uniqueUser();
    const token = await shop.token({ user });
    await addToCart(shop, token, productId, 2);
    const key = randomUUID();

    const first = await shop.call('/cart/checkout', { method: 'POST', token, headers: { 'idempotency-key': key } });
    await addToCart(shop, token, productId, 1); // a new cart must not be checked out by the repeat
    const second = await shop.call('/cart/checkout', { method: 'POST', token, headers: { 'idempotency-key': key } });
    expect(first.status).toBe(202);
    expect(second.status).toBe(202);
    const body = await first.json();
    expect(await second.json()).toEqual(body);

    const mismatch = await shop.call('/cart/checkout', { method: 'POST', token, headers: { 'idempotency-key': key }, body: { note: 'x' } });
    expect(mismatch.status).toBe(422);

    await waitForFinalOrder(shop, token, (body as { orderId: string }).orderId);
    const { rows } = await db.query('SELECT count(*)::int AS n FROM orders WHERE user_id = $1', [devUserObjectId(user)]);
    expect(rows[0].n).toBe(1);
    expect(((await (await shop.call('/cart', { token })).json()) as { items: unknown[] }).items).toHaveLength(1);
  });

  it('when the same CartCheckedOut is delivered twice, then one order, one reservation and one payment exist', async () => {
    const productId = await createProduct(shop, { price: 4, stock: 10 });
    const user = uniqueUser();
    const event = {
      checkoutId: uuidv7(),
      orderId: uuidv7(),
      userId: devUserObjectId(user),
      items: [{ productId, name: 'Duplicate test', unitPrice: 4, quantity: 2 }],
      total: 8,
      occurredAt: new Date().toISOString(),
    };
    for (const messageId of [randomUUID(), randomUUID()]) {
      rabbit.channel.publish('shop.events', 'CartCheckedOut', Buffer.from(JSON.stringify(event)), { persistent: true, messageId, type: 'CartCheckedOut', contentType: 'application/json' });
    }
    const order = await waitForFinalOrder(shop, await shop.token({ user }), event.orderId);
    expect(order.status).toBe('PAID');
    await expect.poll(async () => (await rabbit.channel.checkQueue('cart-checked-out')).messageCount, { timeout: 10_000 }).toBe(0);
    await new Promise((resolve) => setTimeout(resolve, 500));
    const counts = await db.query(
      `SELECT (SELECT count(*)::int FROM orders WHERE id = $1) AS orders,
              (SELECT count(*)::int FROM payments WHERE order_id = $1) AS payments`,
      [event.orderId],
    );
    expect(counts.rows[0]).toEqual({ orders: 1, payments: 1 });
    expect(await productStock(db, productId)).toBe(8);
  });

  it('when the same OrderCreated is delivered several times at once to a PENDING order, then the provider is called once and one payment exists', async () => {
    // A PENDING order as the orders function leaves it, written directly so that no OrderCreated of its own races the copies.
    const user = uniqueUser();
    const orderId = uuidv7();
    await db.query(`INSERT INTO orders (id, checkout_id, user_id, status, total, checked_out_at) VALUES ($1, $2, $3, 'PENDING', 3, now())`, [orderId, uuidv7(), devUserObjectId(user)]);
    const orderCreated = { orderId, userId: devUserObjectId(user), total: 3, occurredAt: new Date().toISOString() };
    for (let copy = 0; copy < 5; copy++) {
      rabbit.channel.publish('shop.events', 'OrderCreated', Buffer.from(JSON.stringify(orderCreated)), { persistent: true, messageId: randomUUID(), type: 'OrderCreated', contentType: 'application/json' });
    }
    expect((await waitForFinalOrder(shop, await shop.token({ user }), orderId)).status).toBe('PAID');
    await expect.poll(async () => (await rabbit.channel.checkQueue('order-created')).messageCount, { timeout: 10_000 }).toBe(0);
    await new Promise((resolve) => setTimeout(resolve, 500));
    const { rows } = await db.query<{ payments: number; calls: number }>(
      `SELECT (SELECT count(*)::int FROM payments WHERE order_id = $1) AS payments,
              (SELECT coalesce(sum(calls), 0)::int FROM simulated_provider_charges WHERE order_id = $1) AS calls`,
      [orderId],
    );
    expect(rows[0]).toEqual({ payments: 1, calls: 1 });
  });

  it('when a malformed message arrives, then it is dead-lettered with the reason and the next checkout still completes', async () => {
    const messageId = randomUUID();
    rabbit.channel.publish('shop.events', 'CartCheckedOut', Buffer.from('{"orderId": "not-a-uuid", "items": "nope"'), {
      persistent: true,
      messageId,
      type: 'CartCheckedOut',
    });
    const dead = await rabbit.find('cart-checked-out.dlq', (m) => m.properties.messageId === messageId);
    expect(String(dead.properties.headers?.['x-dead-letter-reason'])).toContain('invalid CartCheckedOut');
    expect(dead.content.toString()).toBe('{"orderId": "not-a-uuid", "items": "nope"');

    const productId = await createProduct(shop, { price: 1, stock: 3 });
    const token = await shop.token();
    await addToCart(shop, token, productId);
    const { orderId } = (await (await shop.call('/cart/checkout', { method: 'POST', token })).json()) as { orderId: string };
    expect((await waitForFinalOrder(shop, token, orderId)).status).toBe('PAID');
  });

  it('when 500 users check out at once over scarce stock, then nothing is oversold, adds after the stock is gone are refused, and every order ends final', async () => {
    const stock = 300;
    const productId = await createProduct(shop, { price: 2, stock });
    const users = Array.from({ length: 500 }, () => uniqueUser('rush'));
    const tokens = await Promise.all(users.map((user) => shop.token({ user })));
    const orderIds: string[] = [];
    let refused = 0;
    let next = 0;
    await Promise.all(
      Array.from({ length: 32 }, async () => {
        while (next < tokens.length) {
          const token = tokens[next++]!;
          // The cart checks the stock as it is now: once orders have reserved it all, adding is refused.
          const add = await shop.call('/cart/items', { method: 'POST', token, body: { productId, quantity: 1 } });
          if (add.status === 409) {
            expect(await add.json()).toMatchObject({ code: 'insufficient_stock', available: 0 });
            refused++;
            continue;
          }
          expect(add.status).toBe(200);
          const response = await shop.call('/cart/checkout', { method: 'POST', token });
          expect(response.status).toBe(202);
          orderIds.push(((await response.json()) as { orderId: string }).orderId);
        }
      }),
    );
    expect(orderIds.length + refused).toBe(500);
    await expect
      .poll(async () => (await db.query(`SELECT count(*)::int AS n FROM orders WHERE id = ANY($1::uuid[]) AND status <> 'PENDING'`, [orderIds])).rows[0].n, { timeout: 90_000, interval: 500 })
      .toBe(orderIds.length);
    const { rows } = await db.query(`SELECT status, count(*)::int AS n FROM orders WHERE id = ANY($1::uuid[]) GROUP BY status`, [orderIds]);
    const byStatus = Object.fromEntries(rows.map((r) => [r.status, r.n]));
    // Adds are refused only once the stock is 0, so every unit is sold; the others raced past the check.
    expect(byStatus).toEqual(orderIds.length > stock ? { PAID: stock, REJECTED: orderIds.length - stock } : { PAID: stock });
    expect(await productStock(db, productId)).toBe(0);
    const calls = await db.query(`SELECT count(*)::int AS charged, coalesce(max(calls), 0)::int AS most FROM simulated_provider_charges WHERE order_id = ANY($1::uuid[])`, [orderIds]);
    expect(calls.rows[0]).toEqual({ charged: stock, most: 1 });
  });

  it("when a user asks for someone else's order, then it is 404; with Orders.Read.All it is visible", async () => {
    const productId = await createProduct(shop, { price: 1, stock: 5 });
    const owner = await shop.token();
    await addToCart(shop, owner, productId);
    const { orderId } = (await (await shop.call('/cart/checkout', { method: 'POST', token: owner })).json()) as { orderId: string };
    await waitForFinalOrder(shop, owner, orderId);

    expect((await shop.call(`/orders/${orderId}`, { token: await shop.token() })).status).toBe(404);
    expect((await shop.call(`/orders/${orderId}`, { token: await shop.token({ roles: ['Orders.Read.All'] }) })).status).toBe(200);
    const mine = (await (await shop.call('/orders', { token: owner })).json()) as { items: { id: string }[] };
    expect(mine.items.map((o) => o.id)).toEqual([orderId]);
  });
});

describe('checkout while the broker is unreachable', () => {
  let shop: Shop;

  beforeAll(async () => {
    // Port 1 refuses connections: the publisher cannot reach a broker.
    shop = await startShop({ env: { RABBITMQ_URL: 'amqp://guest:guest@127.0.0.1:1' } });
  });
  afterAll(() => shop?.stop());

  it('when the broker is down, then health answers 503 naming rabbitmq and the others ok', async () => {
    const response = await fetch(`${shop.api}/health`);
    expect(response.status).toBe(503);
    expect(response.headers.get('content-type')).toBe('application/problem+json');
    const body = (await response.json()) as { detail: string; checks: Record<string, string> };
    expect(body.checks).toEqual({ postgres: 'ok', redis: 'ok', rabbitmq: 'unavailable' });
    expect(body.detail).toBe('Unavailable: rabbitmq');
  });

  it('when the broker is down, then checkout is still accepted from the outbox, and the order completes once a host reaches the broker', async () => {
    const productId = await createProduct(shop, { price: 1, stock: 5 });
    const user = uniqueUser();
    const token = await shop.token({ user });
    await addToCart(shop, token, productId, 2);
    const response = await shop.call('/cart/checkout', { method: 'POST', token });
    expect(response.status).toBe(202);
    const { orderId } = (await response.json()) as { orderId: string };
    expect(await (await shop.call('/cart', { token })).json()).toEqual({ items: [], total: 0 });

    const db = new pg.Pool({ connectionString: postgresUrl, max: 2 });
    const healthy = await startShop();
    try {
      const unsent = await db.query("SELECT id FROM outbox WHERE sent_at IS NULL AND type = 'CartCheckedOut' AND payload->>'orderId' = $1", [orderId]);
      expect(unsent.rowCount).toBe(1);
      // Stands in for the 30 s relay window passing, so the healthy host's sweep takes the row now.
      await db.query("UPDATE outbox SET relay_after = now() WHERE id = $1", [unsent.rows[0].id]);
      expect((await waitForFinalOrder(healthy, await healthy.token({ user }), orderId, 30_000)).status).toBe('PAID');
    } finally {
      await healthy.stop();
      await db.end();
    }
  });
});
