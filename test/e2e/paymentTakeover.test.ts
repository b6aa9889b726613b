import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { uuidv7 } from '../../src/domain/ids.js';
import { devUserObjectId } from '../../src/dev-issuer/index.js';
import { postgresUrl } from '../support/pipeline.js';
import { RabbitTestClient } from '../support/rabbit.js';
import { startShop, uniqueUser, type Shop } from '../support/shop.js';

/*
 * What the broker's redelivery of OrderCreated finds after the host died mid-payment: the payment
 * PENDING, leased to the dead attempt. Through the local host's real consumer, it must wait while
 * the lease is live (no second call can race a call that may still be live) and take the payment
 * over within a second of the lease's expiry, not at the resolver's idle bound (120 s by default).
 */
describe('a payment whose holder died mid-call, through the payments consumer', () => {
  const leaseSeconds = 3;
  let shop: Shop;
  let db: pg.Pool;
  let rabbit: RabbitTestClient;

  beforeAll(async () => {
    shop = await startShop({ env: { PAYMENT_PROVIDER_TIMEOUT_MS: '1000', PAYMENT_LEASE_SECONDS: String(leaseSeconds) } });
    db = new pg.Pool({ connectionString: postgresUrl, max: 2 });
    rabbit = await RabbitTestClient.connect();
  });
  afterAll(async () => {
    await shop?.stop();
    await db?.end();
    await rabbit?.close();
  });

  it.each([
    ['before its request reached the provider', 0],
    ['after the provider recorded the charge', 1],
  ])('when the holder died %s and OrderCreated is redelivered, then the redelivery takes it over once the lease expires: settled, 1 provider call', async (_when, callsBefore) => {
    const user = uniqueUser();
    const orderId = uuidv7();
    const paymentId = uuidv7();
    await db.query(`INSERT INTO orders (id, checkout_id, user_id, status, total, checked_out_at) VALUES ($1, $2, $3, 'PENDING', 3, now())`, [orderId, uuidv7(), devUserObjectId(user)]);
    // The dead attempt's payment row, as processPayment commits it before the call.
    await db.query(
      `INSERT INTO payments (id, order_id, status, amount, lease_holder, lease_expires_at) VALUES ($1, $2, 'PENDING', 3, $1, clock_timestamp() + make_interval(secs => $3))`,
      [paymentId, orderId, leaseSeconds],
    );
    if (callsBefore) await db.query(`INSERT INTO simulated_provider_charges (idempotency_key, order_id, amount, approved) VALUES ($1, $2, 3, true)`, [paymentId, orderId]);
    const leaseExpiresAt = Date.now() + leaseSeconds * 1000;

    const orderCreated = { orderId, userId: devUserObjectId(user), total: 3, occurredAt: new Date().toISOString() };
    rabbit.channel.publish('shop.events', 'OrderCreated', Buffer.from(JSON.stringify(orderCreated)), { persistent: true, messageId: randomUUID(), type: 'OrderCreated', contentType: 'application/json' });

    const status = async () => (await db.query<{ status: string }>('SELECT status FROM payments WHERE order_id = $1', [orderId])).rows[0]!.status;
    await new Promise((resolve) => setTimeout(resolve, leaseSeconds * 1000 - 500));
    expect(await status(), 'taken over while the lease was live').toBe('PENDING');
    await expect.poll(status, { timeout: 3_000, interval: 100 }).toBe('SUCCEEDED');
    expect(Date.now() - leaseExpiresAt).toBeLessThan(2_500);
    await expect.poll(async () => (await db.query<{ status: string }>('SELECT status FROM orders WHERE id = $1', [orderId])).rows[0]!.status, { timeout: 10_000 }).toBe('PAID');
    const { rows } = await db.query<{ calls: number; holder: string }>(
      `SELECT (SELECT calls FROM simulated_provider_charges WHERE idempotency_key = $1) AS calls, (SELECT lease_holder FROM payments WHERE id = $1) AS holder`,
      [paymentId],
    );
    expect(rows[0]!.calls).toBe(1);
    expect(rows[0]!.holder).not.toBe(paymentId);
  });
});
