import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addToCart, createProduct, postgresUrl, waitForFinalOrder } from '../support/pipeline.js';
import { RabbitTestClient } from '../support/rabbit.js';
import { startShop, uniqueUser, type Shop } from '../support/shop.js';

/** Waits until the host has logged `count` notifications of the order with this outcome. */
async function notificationsLogged(shop: Shop, orderId: string, outcome: string, count: number, timeoutMs = 20_000): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  const logged = () => shop.host.output().split('\n').filter((line) => line.includes('customer notified') && line.includes(orderId) && line.includes(`"outcome":"${outcome}"`)).length;
  while (logged() < count && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 100));
  return logged();
}

/*
 * After the order, through the local host on the real services: the shipping address and the
 * recipient taken at checkout.
 */
describe('shipping address, recipient and notifications', () => {
  let shop: Shop;
  let db: pg.Pool;
  let rabbit: RabbitTestClient;
  let productId: string;
  const address = { name: 'Ada Lovelace', line1: '12 St James Square', line2: 'Flat 3', city: 'London', postalCode: 'SW1Y 4JH', country: 'gb' };

  beforeAll(async () => {
    shop = await startShop();
    db = new pg.Pool({ connectionString: postgresUrl, max: 2 });
    rabbit = await RabbitTestClient.connect();
    productId = await createProduct(shop, { price: 10, stock: 1_000 });
  });
  afterAll(async () => {
    await shop?.stop();
    await db?.end();
    await rabbit?.close();
  });

  const checkout = (token: string, body?: unknown, key?: string) =>
    shop.call('/cart/checkout', { method: 'POST', token, ...(body !== undefined ? { body } : {}), headers: key ? { 'idempotency-key': key } : {} });

  it('when a user checks out with an address, then the order shows it (country in capitals) and keeps the email of the token', async () => {
    const user = uniqueUser('ship');
    const token = await shop.token({ user });
    await addToCart(shop, token, productId);
    const response = await checkout(token, { shippingAddress: address });
    expect(response.status).toBe(202);
    const { orderId } = (await response.json()) as { orderId: string };
    const order = await waitForFinalOrder(shop, token, orderId);
    expect(order).toMatchObject({ status: 'PAID', shippingAddress: { ...address, country: 'GB' } });
    const { rows } = await db.query<{ email: string }>('SELECT email FROM orders WHERE id = $1', [orderId]);
    expect(rows[0]!.email).toBe(`${user}@dev.local`);
  });

  it('when a user checks out without a body, then the order has no address (null)', async () => {
    const token = await shop.token();
    await addToCart(shop, token, productId);
    const { orderId } = (await (await checkout(token)).json()) as { orderId: string };
    expect((await waitForFinalOrder(shop, token, orderId)) as unknown).toMatchObject({ shippingAddress: null });
  });

  it('when the address is invalid, then 400 problem+json names the member and the cart is left as it was', async () => {
    const token = await shop.token();
    await addToCart(shop, token, productId, 2);
    const response = await checkout(token, { shippingAddress: { ...address, country: 'XX' } });
    expect(response.status).toBe(400);
    expect(response.headers.get('content-type')).toContain('application/problem+json');
    expect(await response.json()).toMatchObject({ code: 'invalid_request', errors: [{ path: 'body.shippingAddress.country' }] });
    expect(await (await shop.call('/cart', { token })).json()).toMatchObject({ items: [{ productId, quantity: 2 }] });
  });

  it('when an Idempotency-Key is reused with another address, then 422 idempotency_key_reused and the first order keeps its address', async () => {
    const token = await shop.token();
    await addToCart(shop, token, productId);
    const first = await checkout(token, { shippingAddress: address }, 'ship-key-1');
    expect(first.status).toBe(202);
    const { orderId } = (await first.json()) as { orderId: string };
    await addToCart(shop, token, productId);
    const reused = await checkout(token, { shippingAddress: { ...address, city: 'Paris', country: 'FR' } }, 'ship-key-1');
    expect(reused.status).toBe(422);
    expect(await reused.json()).toMatchObject({ code: 'idempotency_key_reused' });
    const same = await checkout(token, { shippingAddress: address }, 'ship-key-1');
    expect(await same.json()).toMatchObject({ orderId });
    expect(await waitForFinalOrder(shop, token, orderId)).toMatchObject({ shippingAddress: { city: 'London' } });
  });

  it('when an order is paid, then its customer gets one confirmation email; the same OrderPaid delivered twice more sends none', async () => {
    const user = uniqueUser('mail');
    const token = await shop.token({ user });
    await addToCart(shop, token, productId, 2);
    const { orderId } = (await (await checkout(token, { shippingAddress: address })).json()) as { orderId: string };
    expect(await waitForFinalOrder(shop, token, orderId)).toMatchObject({ status: 'PAID' });
    const to = `${user}@dev.local`;
    const mails = await shop.host.mail!.waitFor((mail) => mail.to.some((r) => r.address === to));
    expect(mails).toHaveLength(1);
    expect(mails[0]).toMatchObject({ subject: `Order ${orderId.slice(-8)} is confirmed`, headers: { 'x-shop-notification': `OrderPaid/${orderId}` } });
    expect(mails[0]!.text).toContain('2 x ');

    const duplicate = { orderId, userId: 'any', total: 20, occurredAt: new Date().toISOString() };
    for (let i = 0; i < 2; i++) {
      rabbit.channel.publish('shop.events', 'OrderPaid', Buffer.from(JSON.stringify(duplicate)), { persistent: true, messageId: randomUUID(), type: 'OrderPaid', contentType: 'application/json' });
    }
    expect(await notificationsLogged(shop, orderId, 'already_sent', 2)).toBe(2);
    expect(await shop.host.mail!.waitFor((mail) => mail.to.some((r) => r.address === to), 2, 500)).toHaveLength(1);
  });

  it('when a PAID order is cancelled (twice at once, then again), then 202 CANCELLED with the payment REFUNDED once, stock back once, and one cancellation email', async () => {
    const user = uniqueUser('cancel');
    const token = await shop.token({ user });
    const stockOf = async () => (await db.query<{ stock: number }>('SELECT stock FROM products WHERE id = $1', [productId])).rows[0]!.stock;
    await addToCart(shop, token, productId, 3);
    const { orderId } = (await (await checkout(token)).json()) as { orderId: string };
    expect(await waitForFinalOrder(shop, token, orderId)).toMatchObject({ status: 'PAID' });
    const before = await stockOf();

    const cancel = () => shop.call(`/orders/${orderId}/cancel`, { method: 'POST', token });
    const [first, second] = await Promise.all([cancel(), cancel()]);
    expect([first.status, second.status]).toEqual([202, 202]);
    const refunded = async () => ((await (await shop.call(`/orders/${orderId}`, { token })).json()) as { payment?: { status: string } }).payment?.status === 'REFUNDED';
    for (let i = 0; i < 100 && !(await refunded()); i++) await new Promise((resolve) => setTimeout(resolve, 100));
    const again = await cancel();
    expect(again.status).toBe(202);
    expect(await again.json()).toMatchObject({ id: orderId, status: 'CANCELLED', cancelReason: 'customer', payment: { status: 'REFUNDED', refundedAt: expect.any(String) } });
    expect(await stockOf()).toBe(before + 3);
    const { rows } = await db.query<{ kind: string; calls: number }>('SELECT kind, sum(calls)::int AS calls FROM simulated_provider_charges WHERE order_id = $1 GROUP BY kind ORDER BY kind', [orderId]);
    expect(rows).toEqual([{ kind: 'charge', calls: 1 }, { kind: 'refund', calls: 1 }]);

    const to = `${user}@dev.local`;
    const cancelled = await shop.host.mail!.waitFor((mail) => mail.to.some((r) => r.address === to) && mail.subject.includes('cancelled'));
    expect(cancelled).toHaveLength(1);
    expect(cancelled[0]!.text).toContain('is refunded to you');
    expect(await notificationsLogged(shop, orderId, 'sent', 2)).toBe(2); // confirmation and cancellation, one each
  });

  it("when an order is PAYMENT_FAILED, then cancelling it is 409 order_not_cancellable; another user's order is 404", async () => {
    const token = await shop.token();
    const expensive = await createProduct(shop, { price: 12_000, stock: 5 });
    await addToCart(shop, token, expensive);
    const { orderId } = (await (await checkout(token)).json()) as { orderId: string };
    expect(await waitForFinalOrder(shop, token, orderId)).toMatchObject({ status: 'PAYMENT_FAILED' });
    const refused = await shop.call(`/orders/${orderId}/cancel`, { method: 'POST', token });
    expect(refused.status).toBe(409);
    expect(refused.headers.get('content-type')).toContain('application/problem+json');
    // The problem's status is the HTTP status; the order's is an extension member of its own.
    expect(await refused.json()).toMatchObject({ status: 409, code: 'order_not_cancellable', orderStatus: 'PAYMENT_FAILED' });
    expect((await shop.call(`/orders/${orderId}/cancel`, { method: 'POST', token: await shop.token() })).status).toBe(404);
  });

  it('when a refund was interrupted by a crash (payment left REFUNDING), then the resolver finishes it: REFUNDED, one refund call', async () => {
    const token = await shop.token();
    await addToCart(shop, token, productId);
    const { orderId } = (await (await checkout(token)).json()) as { orderId: string };
    expect(await waitForFinalOrder(shop, token, orderId)).toMatchObject({ status: 'PAID' });
    // What a cancel whose process died right after its transaction leaves: CANCELLED, REFUNDING, the lease free, untouched since.
    await db.query("UPDATE orders SET status = 'CANCELLED', cancel_reason = 'customer' WHERE id = $1", [orderId]);
    await db.query(
      "UPDATE payments SET status = 'REFUNDING', refund_id = gen_random_uuid(), lease_expires_at = clock_timestamp(), updated_at = now() - interval '1 minute' WHERE order_id = $1",
      [orderId],
    );
    const deadline = Date.now() + 40_000;
    let order: { payment?: { status: string } } = {};
    while (Date.now() < deadline && order.payment?.status !== 'REFUNDED') {
      await new Promise((resolve) => setTimeout(resolve, 500));
      order = (await (await shop.call(`/orders/${orderId}`, { token })).json()) as typeof order;
    }
    expect(order.payment?.status).toBe('REFUNDED');
    const { rows } = await db.query<{ calls: number }>("SELECT calls FROM simulated_provider_charges WHERE order_id = $1 AND kind = 'refund'", [orderId]);
    expect(rows).toEqual([{ calls: 1 }]);
  }, 60_000);
});
