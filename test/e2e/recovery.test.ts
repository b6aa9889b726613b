import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { uuidv7 } from '../../src/domain/ids.js';
import { devUserObjectId } from '../../src/dev-issuer/index.js';
import { createProduct, postgresUrl, productStock, waitForFinalOrder } from '../support/pipeline.js';
import { startShop, uniqueUser, type Shop } from '../support/shop.js';

/*
 * The stranded-order resolver through the local host: what a lost or dead-lettered message leaves
 * behind is found by the timer and finished, with no manual step. Bounds are shortened by settings
 * (re-drive after 2 s idle); the timer runs every 15 s.
 */
describe('stranded checkouts and orders are resolved by the timer', () => {
  let shop: Shop;
  let db: pg.Pool;

  beforeAll(async () => {
    shop = await startShop({ env: { ORDER_REDRIVE_AFTER_SECONDS: '2', ORDER_CANCEL_AFTER_SECONDS: '600' } });
    db = new pg.Pool({ connectionString: postgresUrl, max: 2 });
  });
  afterAll(async () => {
    await shop?.stop();
    await db?.end();
  });

  /** A PENDING order of one unit, with that unit reserved from stock as placeOrder would have. */
  async function pendingOrder(user: string, productId: string): Promise<string> {
    const orderId = uuidv7();
    await db.query('UPDATE products SET stock = stock - 1, version = version + 1 WHERE id = $1', [productId]);
    await db.query(
      `INSERT INTO orders (id, checkout_id, user_id, status, total, checked_out_at, updated_at) VALUES ($1, $2, $3, 'PENDING', 5, now() - interval '1 minute', now() - interval '1 minute')`,
      [orderId, uuidv7(), devUserObjectId(user)],
    );
    await db.query(`INSERT INTO order_items (order_id, product_id, name, unit_price, quantity) VALUES ($1, $2, 'Stranded', 5, 1)`, [orderId, productId]);
    return orderId;
  }

  it('when a checkout was accepted but its CartCheckedOut was lost, then it is published again and the order is placed and paid', async () => {
    const productId = await createProduct(shop, { price: 5, stock: 3 });
    const user = uniqueUser();
    const orderId = uuidv7();
    const checkoutId = uuidv7();
    const event = { checkoutId, orderId, userId: devUserObjectId(user), items: [{ productId, name: 'Lost', unitPrice: 5, quantity: 1 }], total: 5, occurredAt: new Date().toISOString() };
    await db.query(`INSERT INTO checkouts (order_id, checkout_id, user_id, state, event, created_at) VALUES ($1, $2, $3, 'ACCEPTED', $4, now() - interval '1 minute')`, [
      orderId,
      checkoutId,
      devUserObjectId(user),
      JSON.stringify(event),
    ]);
    expect((await waitForFinalOrder(shop, await shop.token({ user }), orderId, 40_000)).status).toBe('PAID');
    expect(await productStock(db, productId)).toBe(2);
  });

  it('when an order never got its OrderCreated through, then it is published again and the order is paid once', async () => {
    const productId = await createProduct(shop, { price: 5, stock: 3 });
    const user = uniqueUser();
    const orderId = await pendingOrder(user, productId);
    expect((await waitForFinalOrder(shop, await shop.token({ user }), orderId, 40_000)).status).toBe('PAID');
    const { rows } = await db.query('SELECT coalesce(sum(calls), 0)::int AS calls FROM simulated_provider_charges WHERE order_id = $1', [orderId]);
    expect(rows[0].calls).toBe(1);
    expect(await productStock(db, productId)).toBe(2);
  });

  it('when a payment result was dead-lettered, then the recorded result is applied to the order', async () => {
    const productId = await createProduct(shop, { price: 5, stock: 3 });
    const user = uniqueUser();
    const orderId = await pendingOrder(user, productId);
    await db.query(`INSERT INTO payments (id, order_id, status, amount, reason, updated_at) VALUES ($1, $2, 'FAILED', 5, 'card declined', now() - interval '1 minute')`, [uuidv7(), orderId]);
    const order = await waitForFinalOrder(shop, await shop.token({ user }), orderId, 40_000);
    expect(order).toMatchObject({ status: 'PAYMENT_FAILED', payment: { status: 'FAILED', reason: 'card declined' } });
    // The unit the order held is back, once: not one more than was there.
    expect(await productStock(db, productId)).toBe(3);
  });
});
