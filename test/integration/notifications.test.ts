import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isTransient } from '../../src/app/consumeEvent.js';
import { smtpNotifier } from '../../src/adapters/notifications/smtpNotifier.js';
import { postgresNotificationLedger } from '../../src/adapters/postgres/notificationLedger.js';
import { uuidv7 } from '../../src/domain/ids.js';
import { notificationKey, notifyCustomer, type Notifier } from '../../src/domain/notifications.js';
import { startMailCatcher, type MailCatcher } from '../support/mailCatcher.js';
import { postgresUrl } from '../support/pipeline.js';
import { connectionsInUse, onStatements } from '../support/statements.js';

/*
 * One email per event, on the real Postgres sent markers and a real SMTP server (MailDev): duplicates
 * at once, a redelivery after a crash before the send, and one between the send and the mark (the
 * documented at-least-once case: SMTP has no idempotency key).
 */

let db: pg.Pool;
let catcher: MailCatcher;
let smtp: ReturnType<typeof smtpNotifier>;
const keys: string[] = [];
const orderIds: string[] = [];

beforeAll(async () => {
  db = new pg.Pool({ connectionString: postgresUrl, max: 8 });
  catcher = await startMailCatcher();
  smtp = smtpNotifier(catcher.smtpUrl, 'Shop <shop@localhost>', 5);
});
afterAll(async () => {
  smtp?.close();
  await catcher?.stop();
  await db?.query('DELETE FROM notifications_sent WHERE notification_key = ANY($1)', [keys]);
  await db?.query('DELETE FROM orders WHERE id = ANY($1::uuid[])', [orderIds]);
  await db?.end();
});

/** A paid order, written to Postgres as the order store writes it (the ledger reads it there). */
async function paidOrder(withEmail = true): Promise<{ event: { orderId: string; userId: string; total: number; occurredAt: string }; email: string }> {
  const id = uuidv7();
  keys.push(notificationKey('OrderPaid', id));
  orderIds.push(id);
  const address = `buyer-${id.slice(-6)}@dev.local`;
  await db.query(
    `INSERT INTO orders (id, checkout_id, user_id, status, total, checked_out_at, shipping_address, email) VALUES ($1, $2, 'buyer', 'PAID', 25, now(), $3, $4)`,
    [id, uuidv7(), JSON.stringify({ name: 'Ada Lovelace', line1: '12 St James Square', city: 'London', postalCode: 'SW1Y 4JH', country: 'GB' }), withEmail ? address : null],
  );
  await db.query(`INSERT INTO order_items (order_id, product_id, name, unit_price, quantity) VALUES ($1, $2, 'Beans', 12.50, 2)`, [id, uuidv7()]);
  return { event: { orderId: id, userId: 'buyer', total: 25, occurredAt: new Date().toISOString() }, email: address };
}

const connectionLost = () => Object.assign(new Error('Connection terminated unexpectedly'), { code: 'ECONNRESET' });
const mailsTo = async (email: string) => (await catcher.messages()).filter((mail) => mail.to.some((to) => to.address === email));

describe('customer notifications, sent once per event', () => {
  it('when the same OrderPaid is delivered five times at once, then one email is sent, with the order and its address', async () => {
    const { event, email } = await paidOrder();
    const ledger = postgresNotificationLedger(db);
    let sends = 0;
    const counting: Notifier = { send: async (message) => (sends++, smtp.send(message)) };
    const outcomes = await Promise.all(Array.from({ length: 5 }, () => notifyCustomer({ ledger, notifier: counting }, 'OrderPaid', event)));
    expect(outcomes.sort()).toEqual(['already_sent', 'already_sent', 'already_sent', 'already_sent', 'sent']);
    expect(sends).toBe(1);
    const mails = await mailsTo(email);
    expect(mails).toHaveLength(1);
    expect(mails[0]).toMatchObject({ subject: `Order ${event.orderId.slice(-8)} is confirmed`, headers: { 'x-shop-notification': `OrderPaid/${event.orderId}` } });
    expect(mails[0]!.text).toContain('2 x Beans at 12.50');
    expect(mails[0]!.text).toContain('SW1Y 4JH London');
  });

  it('when the mail server fails before accepting the message, then no marker is written and the redelivery sends it once', async () => {
    const { event, email } = await paidOrder();
    const ledger = postgresNotificationLedger(db);
    const down: Notifier = { send: async () => Promise.reject(connectionLost()) };
    await expect(notifyCustomer({ ledger, notifier: down }, 'OrderPaid', event)).rejects.toSatisfy(isTransient);
    expect(await notifyCustomer({ ledger, notifier: smtp }, 'OrderPaid', event)).toBe('sent');
    expect(await notifyCustomer({ ledger, notifier: smtp }, 'OrderPaid', event)).toBe('already_sent');
    expect(await mailsTo(email)).toHaveLength(1);
  });

  it('when the process dies between the send and the mark, then the redelivery sends it again once (at least once), and later ones do not', async () => {
    const { event, email } = await paidOrder();
    const ledger = postgresNotificationLedger(db);
    // The message is accepted, then the connection to Postgres is lost before the marker commits.
    const sentThenCrashed: Notifier = { send: async (message) => smtp.send(message).then(() => Promise.reject(connectionLost())) };
    await expect(notifyCustomer({ ledger, notifier: sentThenCrashed }, 'OrderPaid', event)).rejects.toSatisfy(isTransient);
    expect(await mailsTo(email)).toHaveLength(1);
    expect(await notifyCustomer({ ledger, notifier: smtp }, 'OrderPaid', event)).toBe('sent');
    expect(await notifyCustomer({ ledger, notifier: smtp }, 'OrderPaid', event)).toBe('already_sent');
    expect(await mailsTo(email)).toHaveLength(2);
  });

  it('when the order has no email address, then nothing is sent and nothing is marked', async () => {
    const { event } = await paidOrder(false);
    const ledger = postgresNotificationLedger(db);
    expect(await notifyCustomer({ ledger, notifier: smtp }, 'OrderPaid', event)).toBe('no_recipient');
    const { rowCount } = await db.query('SELECT 1 FROM notifications_sent WHERE notification_key = $1', [notificationKey('OrderPaid', event.orderId)]);
    expect(rowCount).toBe(0);
  });
});

/** Sends slowly for `slowOrders`, so the notifications that arrive meanwhile wait and share the next batch. */
function slowFor(slowOrders: string[], notifier: Notifier): Notifier {
  return {
    async send(message) {
      if (slowOrders.some((id) => message.notificationKey.endsWith(id))) await new Promise((resolve) => setTimeout(resolve, 200));
      return notifier.send(message);
    },
  };
}

const marked = async (orderIds: string[]) =>
  (await db.query<{ notification_key: string }>('SELECT notification_key FROM notifications_sent WHERE notification_key = ANY($1)', [orderIds.map((id) => notificationKey('OrderPaid', id))])).rows
    .map((row) => row.notification_key.slice('OrderPaid/'.length))
    .sort();

describe('customer notifications sent together', () => {
  it('when notifications arrive while two batches are sending, then they share one transaction (at most two connections for the three batches): each sent is marked, a failed send and an order without an address mark nothing, and the failed one is sent by its redelivery', async () => {
    const counting = new pg.Pool({ connectionString: postgresUrl, max: 4 });
    let batches = 0;
    onStatements(counting, (text) => {
      if (text.includes('INSERT INTO notifications_sent')) batches++;
    });
    const connections = connectionsInUse(counting);
    try {
      const ledger = postgresNotificationLedger(counting);
      const [slowA, slowB, sent1, failing, noAddress, sent2] = await Promise.all([paidOrder(), paidOrder(), paidOrder(), paidOrder(), paidOrder(false), paidOrder()]);
      const failingId = failing.event.orderId;
      const notifier = slowFor([slowA.event.orderId, slowB.event.orderId], {
        send: (message) => (message.notificationKey.endsWith(failingId) ? Promise.reject(connectionLost()) : smtp.send(message)),
      });
      const outcomes = await Promise.allSettled([slowA, slowB, sent1, failing, noAddress, sent2].map(({ event }) => notifyCustomer({ ledger, notifier }, 'OrderPaid', event)));
      expect(batches).toBe(3);
      expect(connections.most()).toBe(2);
      expect(outcomes.map((outcome) => (outcome.status === 'fulfilled' ? outcome.value : isTransient(outcome.reason) ? 'transient' : outcome.reason))).toEqual([
        'sent',
        'sent',
        'sent',
        'transient',
        'no_recipient',
        'sent',
      ]);
      const sentOrders = [slowA, slowB, sent1, sent2].map(({ event }) => event.orderId);
      expect(await marked([...sentOrders, failingId, noAddress.event.orderId])).toEqual([...sentOrders].sort());
      for (const { email } of [slowA, slowB, sent1, sent2]) expect(await mailsTo(email)).toHaveLength(1);
      expect(await notifyCustomer({ ledger, notifier: smtp }, 'OrderPaid', failing.event)).toBe('sent');
      expect(await mailsTo(failing.email)).toHaveLength(1);
    } finally {
      await counting.end();
    }
  });

  for (const send of ['accepted', 'refused'] as const) {
    it(`when one event is delivered three times into one batch and the mail server ${send === 'accepted' ? 'accepts' : 'refuses'} it, then it is sent once and the copies end as the first: ${send === 'accepted' ? 'already sent' : 'the same transient error, unmarked'}`, async () => {
      const ledger = postgresNotificationLedger(db);
      const [slowA, slowB, repeated] = await Promise.all([paidOrder(), paidOrder(), paidOrder()]);
      let sends = 0;
      const notifier = slowFor([slowA.event.orderId, slowB.event.orderId], {
        send: (message) => {
          if (message.notificationKey.endsWith(repeated.event.orderId)) sends++;
          return send === 'refused' && message.notificationKey.endsWith(repeated.event.orderId) ? Promise.reject(connectionLost()) : smtp.send(message);
        },
      });
      const blockers = [slowA, slowB].map(({ event }) => notifyCustomer({ ledger, notifier }, 'OrderPaid', event));
      const copies = await Promise.allSettled([1, 2, 3].map(() => notifyCustomer({ ledger, notifier }, 'OrderPaid', repeated.event)));
      await Promise.all(blockers);
      expect(sends).toBe(1);
      if (send === 'accepted') {
        expect(copies.map((copy) => copy.status === 'fulfilled' && copy.value)).toEqual(['sent', 'already_sent', 'already_sent']);
        expect(await mailsTo(repeated.email)).toHaveLength(1);
        expect(await marked([repeated.event.orderId])).toEqual([repeated.event.orderId]);
      } else {
        for (const copy of copies) expect(copy.status === 'rejected' && isTransient(copy.reason)).toBe(true);
        expect(await marked([repeated.event.orderId])).toEqual([]);
      }
    });
  }
});

describe('the SMTP session pool', () => {
  const message = (subject: string) => ({ to: 'pool@dev.local', subject, text: subject, notificationKey: `pool-${subject}-${uuidv7()}` });

  it('when the mail server restarts, then a send while it is down is transient and the first send after it is back is delivered', async () => {
    const first = await startMailCatcher();
    const port = Number(new URL(first.smtpUrl).port);
    const pooled = smtpNotifier(first.smtpUrl, 'Shop <shop@localhost>', 5);
    let restarted: MailCatcher | undefined;
    try {
      await pooled.send(message('before'));
      expect(await first.waitFor((mail) => mail.subject === 'before')).toHaveLength(1);
      // Stopping MailDev waits ~10 s for the idle pooled session to close.
      await first.stop();
      await expect(pooled.send(message('down'))).rejects.toSatisfy(isTransient);
      restarted = await startMailCatcher(port);
      await pooled.send(message('after'));
      expect((await restarted.messages()).map((mail) => mail.subject)).toEqual(['after']);
    } finally {
      pooled.close();
      await restarted?.stop();
    }
  });

  it('when the pool is closed with a send still waiting for a session, then that send fails as transient (it is sent again later)', async () => {
    const one = smtpNotifier(catcher.smtpUrl, 'Shop <shop@localhost>', 1);
    const sends = [one.send(message('closing-1')), one.send(message('closing-2'))];
    one.close();
    const outcomes = await Promise.allSettled(sends);
    const failures = outcomes.filter((o): o is PromiseRejectedResult => o.status === 'rejected');
    expect(failures.length).toBeGreaterThan(0);
    expect(failures.every((f) => isTransient(f.reason))).toBe(true);
  });

  it('when many messages are sent at once, then each is delivered once over the pooled sessions', async () => {
    const subjects = Array.from({ length: 30 }, (_, i) => `burst-${i}`);
    await Promise.all(subjects.map((subject) => smtp.send(message(subject))));
    const received = (await catcher.waitFor((mail) => mail.subject.startsWith('burst-'), subjects.length)).map((mail) => mail.subject);
    expect(received.sort()).toEqual([...subjects].sort());
  });
});
