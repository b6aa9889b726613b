import type pg from 'pg';
import type { CartCheckedOut, OutgoingEvent } from '../../domain/events.js';
import { centsFromDecimal, decimalFromCents } from '../../domain/money.js';
import type { CancelReason } from '../../domain/events.js';
import type { ShippingAddress } from '../../domain/shippingAddress.js';
import type { MovedOrder, Order, OrderChange, OrderStatus, OrderStore, OrderUnitOfWork, OrderToPlace, Payment, PaymentResultMove, PaymentSettlement, PaymentStart, PaymentStartOutcome, Reservation, TransactionLane } from '../../domain/orders.js';
import { insertOutboxRows, type OutboxRelay } from './outbox.js';
import { GroupCommit, type BatchOpening, type SharedWrites } from './groupCommit.js';
import { query } from './pool.js';

/** What a transaction did that others must hear of once it commits. */
interface Effects {
  events: OutgoingEvent[];
  stockChanged: boolean;
}

type NewOrder = Omit<Order, 'createdAt' | 'updatedAt' | 'payment'>;

/**
 * The order and its items, its checkout marked PLACED; on a redelivered checkout (the order exists)
 * nothing is written. CTEs only: insertOrder ends the statement with what it inserted. (A checkout's
 * PENDING order is placed by place_orders instead, with its stock.)
 */
const insertOrderSql = `WITH inserted AS (
     INSERT INTO orders (id, checkout_id, user_id, status, total, reason, checked_out_at, cancel_reason, shipping_address, email)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $12, $13, $14) ON CONFLICT DO NOTHING RETURNING id
   ), items AS (
     INSERT INTO order_items (order_id, product_id, name, unit_price, quantity)
     SELECT inserted.id, line.* FROM inserted, unnest($8::uuid[], $9::text[], $10::numeric[], $11::int[]) AS line
   ), placed AS (
     UPDATE checkouts SET state = 'PLACED' WHERE order_id IN (SELECT id FROM inserted) AND state = 'ACCEPTED'
   )`;

const insertOrderValues = (order: NewOrder) => [
  order.id,
  order.checkoutId,
  order.userId,
  order.status,
  decimalFromCents(order.totalCents),
  order.reason,
  order.checkedOutAt,
  order.lines.map((l) => l.productId),
  order.lines.map((l) => l.name),
  order.lines.map((l) => decimalFromCents(l.unitPriceCents)),
  order.lines.map((l) => l.quantity),
  order.cancelReason,
  order.shippingAddress && JSON.stringify(order.shippingAddress),
  order.email,
];

/** What place_orders (migration 1732500000033) answers for one order. */
interface PlacementRow {
  placed: boolean;
  fits: boolean | null;
  stock: { id: string; name: string; stock: number }[] | null;
}

/** Why an order that did not fit was refused: the first line whose product is gone or short. */
function refusal(order: OrderToPlace, stock: NonNullable<PlacementRow['stock']>): Reservation {
  const products = new Map(stock.map((product) => [product.id, product]));
  for (const line of order.lines) {
    const product = products.get(line.productId);
    if (!product) return { ok: false, reason: `product ${line.productId} (${line.name}) no longer exists` };
    if (product.stock < line.quantity) return { ok: false, reason: `not enough stock for ${product.name}: ${line.quantity} requested, ${product.stock} available` };
  }
  throw new Error('stock reservation refused although every line fits');
}

/**
 * The placements of a group-commit batch in one statement (place_orders): each order inserted with
 * its lines, its checkout marked PLACED and its stock taken if every line fits, decided one order
 * after another on the locked products; a redelivered order (it exists) writes nothing.
 */
const placements: BatchOpening<OrderToPlace, Reservation | 'exists'> = {
  async open(client, orders) {
    const batch = orders.map((order) => ({
      id: order.id,
      checkoutId: order.checkoutId,
      userId: order.userId,
      total: decimalFromCents(order.totalCents),
      checkedOutAt: order.checkedOutAt.toISOString(),
      shippingAddress: order.shippingAddress,
      email: order.email,
      lines: order.lines.map((line) => ({ productId: line.productId, name: line.name, unitPrice: decimalFromCents(line.unitPriceCents), quantity: line.quantity })),
    }));
    const { rows } = await client.query<PlacementRow>(
      'SELECT r.placed, r.fits, r.stock FROM place_orders($1::jsonb) WITH ORDINALITY AS r(placed, fits, stock, n) ORDER BY r.n',
      [JSON.stringify(batch)],
    );
    return rows.map((row, i) => (!row.placed ? 'exists' : row.fits ? { ok: true } : refusal(orders[i]!, row.stock ?? [])));
  },
};

/**
 * The payment starts of a group-commit batch in one statement: every order locked (in id order, so a
 * batch cannot deadlock with another locking the same orders), its latest committed status read once
 * the lock is granted, and a PENDING payment inserted only for a PENDING order. Every start takes its
 * order's lock first, so starts of one order run one after the other, and the unique order_id makes a
 * second one (in another batch, or later in this one) find the first.
 */
const paymentStarts: BatchOpening<PaymentStart, PaymentStartOutcome> = {
  async open(client, starts) {
    const { rows } = await client.query<{ status: OrderStatus | null; started: boolean }>(
      `WITH wanted AS (
         SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::numeric[], $4::float8[]) WITH ORDINALITY AS w(id, order_id, amount, lease_ms, n)
       ), locked AS (
         SELECT o.id, o.status FROM orders o WHERE o.id IN (SELECT order_id FROM wanted) ORDER BY o.id FOR UPDATE
       ), started AS (
         INSERT INTO payments (id, order_id, status, amount, lease_holder, lease_expires_at)
         SELECT w.id, w.order_id, 'PENDING', w.amount, w.id, clock_timestamp() + make_interval(secs => w.lease_ms / 1000)
           FROM wanted w JOIN locked l ON l.id = w.order_id WHERE l.status = 'PENDING' ORDER BY w.n
         ON CONFLICT (order_id) DO NOTHING RETURNING id
       )
       SELECT l.status, w.id IN (SELECT id FROM started) AS started FROM wanted w LEFT JOIN locked l ON l.id = w.order_id ORDER BY w.n`,
      [starts.map((start) => start.id), starts.map((start) => start.orderId), starts.map((start) => decimalFromCents(start.amountCents)), starts.map((start) => start.leaseMs)],
    );
    return rows.map((row) => (row.status !== 'PENDING' ? 'order_not_pending' : row.started ? 'started' : 'exists'));
  },
};

/**
 * The payment settlements of a group-commit batch in one statement: the payments locked in id order,
 * and each PENDING one given its result. A payment named twice is settled by the first of the two
 * (in arrival order); the second finds it settled, as it would one after the other.
 */
const paymentSettlements: BatchOpening<PaymentSettlement, boolean> = {
  async open(client, settlements) {
    const { rows } = await client.query<{ settled: boolean }>(
      `WITH wanted AS (
         SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[]) WITH ORDINALITY AS w(id, status, reason, provider_reference, n)
       ), first AS (
         SELECT DISTINCT ON (id) * FROM wanted ORDER BY id, n
       ), locked AS (
         SELECT p.id FROM payments p WHERE p.id IN (SELECT id FROM first) ORDER BY p.id FOR UPDATE
       ), settled AS (
         UPDATE payments p SET status = f.status, reason = f.reason, provider_reference = f.provider_reference, updated_at = now()
           FROM first f WHERE p.id = f.id AND p.id IN (SELECT id FROM locked) AND p.status = 'PENDING' RETURNING p.id
       )
       SELECT w.n IN (SELECT f.n FROM first f JOIN settled s ON s.id = f.id) AS settled FROM wanted w ORDER BY w.n`,
      [
        settlements.map((settlement) => settlement.paymentId),
        settlements.map((settlement) => settlement.status),
        settlements.map((settlement) => settlement.reason),
        settlements.map((settlement) => settlement.providerReference),
      ],
    );
    return rows.map((row) => row.settled);
  },
};

/**
 * The payment results of a group-commit batch moved onto their orders in one statement: the orders
 * locked in id order, and each PENDING one without a cancel request given its result's status (the
 * transition's other effects are the caller's). An order named twice is moved by the first of the two
 * (in arrival order); the second finds it moved. A batch's placements concern other orders (an order
 * has no payment result before it is placed), so neither kind of opening sees the other's rows. A
 * declined payment's stock comes back in the rest of its work, after the batch's placements opened:
 * as if those placements had run first, which they could have, all having waited at once.
 */
const paymentResultMoves: BatchOpening<PaymentResultMove, MovedOrder | undefined> = {
  async open(client, moves) {
    const { rows } = await client.query<{ user_id: string | null; total: string | null; checked_out_at: Date | null }>(
      `WITH wanted AS (
         SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[]) WITH ORDINALITY AS w(order_id, status, reason, n)
       ), first AS (
         SELECT DISTINCT ON (order_id) * FROM wanted ORDER BY order_id, n
       ), locked AS (
         SELECT o.id FROM orders o WHERE o.id IN (SELECT order_id FROM first) ORDER BY o.id FOR UPDATE
       ), moved AS (
         UPDATE orders o SET status = f.status, reason = COALESCE(f.reason, o.reason), updated_at = now()
           FROM first f WHERE o.id = f.order_id AND o.id IN (SELECT id FROM locked) AND o.status = 'PENDING' AND o.cancel_requested_at IS NULL
         RETURNING f.n, o.user_id, o.total::text AS total, o.checked_out_at
       )
       SELECT m.user_id, m.total, m.checked_out_at FROM wanted w LEFT JOIN moved m ON m.n = w.n ORDER BY w.n`,
      [moves.map((move) => move.orderId), moves.map((move) => move.to), moves.map((move) => move.change.reason ?? null)],
    );
    return rows.map((row) => (row.user_id === null ? undefined : { userId: row.user_id, totalCents: centsFromDecimal(row.total!), checkedOutAt: row.checked_out_at! }));
  },
};

function unitOfWork(client: pg.PoolClient, effects: Effects, batchOutbox: OutgoingEvent[]): OrderUnitOfWork {
  const run = <R extends pg.QueryResultRow>(text: string, values: unknown[]) => client.query<R>(text, values);
  // Whether a cancel was requested, read with the order's row lock: while this transaction holds it only
  // this transaction can change it, so cancelRequested() needs no statement of its own.
  const cancelRequestedOfLocked = new Map<string, boolean>();
  return {
    async insertOrder(order) {
      const { rows } = await run<{ inserted: number }>(`${insertOrderSql} SELECT count(*)::int AS inserted FROM inserted`, insertOrderValues(order));
      return rows[0]!.inserted === 1;
    },

    async transition(orderId: string, from: OrderStatus, to: OrderStatus, change: OrderChange, unlessCancelRequested = false) {
      const { rows } = await run<{ user_id: string; total: string; checked_out_at: Date }>(
        `UPDATE orders SET status = $3, reason = COALESCE($4, reason), cancel_reason = COALESCE($5, cancel_reason), updated_at = now()
          WHERE id = $1 AND status = $2${unlessCancelRequested ? ' AND cancel_requested_at IS NULL' : ''} RETURNING user_id, total::text AS total, checked_out_at`,
        [orderId, from, to, change.reason ?? null, change.cancelReason ?? null],
      );
      return rows[0] && { userId: rows[0].user_id, totalCents: centsFromDecimal(rows[0].total), checkedOutAt: rows[0].checked_out_at };
    },

    async releaseStock(orderId: string) {
      effects.stockChanged = true;
      await run(
        `UPDATE products p SET stock = p.stock + i.quantity, version = p.version + 1, updated_at = now()
           FROM (SELECT product_id, quantity FROM order_items WHERE order_id = $1 ORDER BY product_id) i
          WHERE p.id = i.product_id`,
        [orderId],
      );
    },

    async lockOrder(orderId: string) {
      const { rows } = await run<{ status: OrderStatus; cancel_requested: boolean }>(
        'SELECT status, cancel_requested_at IS NOT NULL AS cancel_requested FROM orders WHERE id = $1 FOR UPDATE',
        [orderId],
      );
      if (rows[0]) cancelRequestedOfLocked.set(orderId, rows[0].cancel_requested);
      return rows[0]?.status;
    },

    async paymentOf(orderId: string) {
      const { rows } = await run<{ id: string; status: Payment['status']; amount: string }>('SELECT id, status, amount::text AS amount FROM payments WHERE order_id = $1', [orderId]);
      return rows[0] && { id: rows[0].id, status: rows[0].status, amountCents: centsFromDecimal(rows[0].amount) };
    },

    async markRedriven(orderId: string) {
      await run('UPDATE orders SET redriven_at = now() WHERE id = $1', [orderId]);
      await run("UPDATE checkouts SET redriven_at = now() WHERE order_id = $1 AND state = 'ACCEPTED'", [orderId]);
    },

    // Leases are set and compared on the database's clock (clock_timestamp(): the statement's time,
    // not the transaction's start), so the app servers' clocks never enter into who may call the provider.
    async takeOverPayment(paymentId: string, holder: string, leaseMs: number) {
      const { rowCount } = await run(
        `UPDATE payments SET lease_holder = $2, lease_expires_at = clock_timestamp() + make_interval(secs => $3::float8 / 1000), updated_at = now()
          WHERE id = $1 AND status = 'PENDING' AND lease_expires_at <= clock_timestamp()`,
        [paymentId, holder, leaseMs],
      );
      return rowCount === 1;
    },

    async requestCancel(orderId: string) {
      await run('UPDATE orders SET cancel_requested_at = COALESCE(cancel_requested_at, now()), updated_at = now() WHERE id = $1', [orderId]);
      if (cancelRequestedOfLocked.has(orderId)) cancelRequestedOfLocked.set(orderId, true);
    },

    async cancelRequested(orderId: string) {
      const locked = cancelRequestedOfLocked.get(orderId);
      if (locked !== undefined) return locked;
      const { rows } = await run<{ requested: boolean }>('SELECT cancel_requested_at IS NOT NULL AS requested FROM orders WHERE id = $1', [orderId]);
      return rows[0]?.requested ?? false;
    },

    async startRefund(paymentId: string, refundId: string) {
      // The lease is left free: whoever finishes the refund first takes it.
      const { rowCount } = await run("UPDATE payments SET status = 'REFUNDING', refund_id = $2, lease_holder = NULL, lease_expires_at = clock_timestamp(), updated_at = now() WHERE id = $1 AND status = 'SUCCEEDED'",
        [paymentId, refundId],
      );
      return rowCount === 1;
    },

    async leaseRefund(paymentId: string, holder: string, leaseMs: number) {
      const { rows } = await run<{ refund_id: string; order_id: string; amount: string }>(`UPDATE payments SET lease_holder = $2, lease_expires_at = clock_timestamp() + make_interval(secs => $3::float8 / 1000), updated_at = now()
          WHERE id = $1 AND status = 'REFUNDING' AND lease_expires_at <= clock_timestamp() RETURNING refund_id, order_id, amount::text AS amount`,
        [paymentId, holder, leaseMs],
      );
      return rows[0] && { refundId: rows[0].refund_id, orderId: rows[0].order_id, amountCents: centsFromDecimal(rows[0].amount) };
    },

    async completeRefund(paymentId: string, providerReference: string) {
      const { rowCount } = await run("UPDATE payments SET status = 'REFUNDED', refund_reference = $2, refunded_at = now(), lease_holder = NULL, updated_at = now() WHERE id = $1 AND status = 'REFUNDING'",
        [paymentId, providerReference],
      );
      return rowCount === 1;
    },

    async addToOutbox(event: OutgoingEvent) {
      // Written with the batch's other rows before its COMMIT (GroupCommit's shared writes), so in the same transaction.
      batchOutbox.push(event);
      effects.events.push(event);
    },
  };
}

export interface OrderRow {
  id: string;
  checkout_id: string;
  user_id: string;
  status: OrderStatus;
  reason: string | null;
  cancel_reason: CancelReason | null;
  total: string;
  shipping_address: ShippingAddress | null;
  email: string | null;
  checked_out_at: Date;
  created_at: Date;
  updated_at: Date;
  items: { product_id: string; name: string; unit_price: string; quantity: number }[];
  cancel_requested: boolean;
  payment: { id: string; status: Payment['status']; amount: string; reason: string | null; created_at: string; refunded_at: string | null } | null;
}

export const orderSelect = `
  SELECT o.id, o.checkout_id, o.user_id, o.status, o.reason, o.cancel_reason, o.total::text AS total, o.shipping_address, o.email, o.cancel_requested_at IS NOT NULL AS cancel_requested, o.checked_out_at, o.created_at, o.updated_at,
         (SELECT coalesce(json_agg(json_build_object('product_id', i.product_id, 'name', i.name, 'unit_price', i.unit_price::text, 'quantity', i.quantity) ORDER BY i.product_id), '[]')
            FROM order_items i WHERE i.order_id = o.id) AS items,
         (SELECT json_build_object('id', p.id, 'status', p.status, 'amount', p.amount::text, 'reason', p.reason, 'created_at', p.created_at, 'refunded_at', p.refunded_at)
            FROM payments p WHERE p.order_id = o.id) AS payment
    FROM orders o`;

export function toOrder(row: OrderRow): Order {
  return {
    id: row.id,
    checkoutId: row.checkout_id,
    userId: row.user_id,
    status: row.status,
    reason: row.reason,
    cancelReason: row.cancel_reason,
    totalCents: centsFromDecimal(row.total),
    shippingAddress: row.shipping_address,
    email: row.email,
    cancelRequested: row.cancel_requested,
    checkedOutAt: row.checked_out_at,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    lines: row.items.map((i) => ({ productId: i.product_id, name: i.name, unitPriceCents: centsFromDecimal(i.unit_price), quantity: i.quantity })),
    payment: row.payment && {
      id: row.payment.id,
      orderId: row.id,
      status: row.payment.status,
      amountCents: centsFromDecimal(row.payment.amount),
      reason: row.payment.reason,
      createdAt: new Date(row.payment.created_at),
      refundedAt: row.payment.refunded_at ? new Date(row.payment.refunded_at) : null,
    },
  };
}

/**
 * `onStockChanged` runs after a commit that reserved or released stock (the product read cache of
 * this process is cleared by it; the products trigger does not notify for stock-only updates, which
 * would cost every order a cross-process notification).
 */
export function postgresOrderStore(pool: pg.Pool, relay: OutboxRelay, onStockChanged: () => void = () => undefined): OrderStore {
  // Concurrent deliveries (placements, payments, results) share a transaction under load: one commit for
  // many orders. A batch's works run one after another on one connection, so one lane's throughput is
  // bounded by its statements' round trips; the payment lane runs beside the order lane and roughly
  // doubles that bound. Its works never lock products, so its batches cannot deadlock with the order
  // lane's over stock; a cycle over two orders' rows (two cancels racing two payments, in opposite
  // orders) is broken by Postgres (40P01), and each work of the failed batch runs again alone.
  // A batch's placements are one statement (place_orders), its payment starts, settlements and
  // results on orders one each, and its outbox rows one, just before its COMMIT.
  const outboxRows: SharedWrites<OutgoingEvent[]> = { open: () => [], write: insertOutboxRows };
  const lanes: Record<TransactionLane, GroupCommit<OutgoingEvent[]>> = { orders: new GroupCommit(pool, outboxRows), payments: new GroupCommit(pool, outboxRows) };
  /** Runs a work of a lane and, once it committed, tells what it did: the stock it changed, the events it wrote. */
  async function committed<T>(run: (effects: Effects) => Promise<T>): Promise<T> {
    const effects: Effects = { events: [], stockChanged: false };
    const result = await run(effects);
    if (effects.stockChanged) onStockChanged();
    await relay.publishCommitted(effects.events);
    return result;
  }
  // A work may run twice (its batch rolled back): only the run that committed counts.
  const fresh = (effects: Effects) => Object.assign(effects, { events: [], stockChanged: false });
  return {
    transaction(work, lane = 'orders') {
      return committed((effects) => lanes[lane].run((client, batchOutbox) => work(unitOfWork(client, fresh(effects), batchOutbox))));
    },

    placeOrder(order, then) {
      return committed((effects) =>
        lanes.orders.runOpened(placements, order, (client, batchOutbox, reservation) => {
          const uow = unitOfWork(client, fresh(effects), batchOutbox);
          effects.stockChanged = reservation !== 'exists' && reservation.ok;
          return then(reservation, uow);
        }),
      );
    },

    startPayment(payment, then) {
      return committed((effects) => lanes.payments.runOpened(paymentStarts, payment, (client, batchOutbox, started) => then(started, unitOfWork(client, fresh(effects), batchOutbox))));
    },

    settlePayment(settlement, then) {
      return committed((effects) => lanes.payments.runOpened(paymentSettlements, settlement, (client, batchOutbox, settled) => then(settled, unitOfWork(client, fresh(effects), batchOutbox))));
    },

    moveOnPaymentResult(move, then) {
      return committed((effects) => lanes.orders.runOpened(paymentResultMoves, move, (client, batchOutbox, moved) => then(moved, unitOfWork(client, fresh(effects), batchOutbox))));
    },

    async get(orderId) {
      const { rows } = await query<OrderRow>(pool, `${orderSelect} WHERE o.id = $1`, [orderId]);
      return rows[0] && toOrder(rows[0]);
    },

    async acceptedCheckout(orderId) {
      const { rows } = await query<{ event: CartCheckedOut }>(pool, "SELECT event FROM checkouts WHERE order_id = $1 AND state = 'ACCEPTED'", [orderId]);
      return rows[0]?.event;
    },

    async listForUser(userId, limit, before) {
      const { rows } = before
        ? await query<OrderRow>(pool, `${orderSelect} WHERE o.user_id = $1 AND o.id < $2 ORDER BY o.id DESC LIMIT $3`, [userId, before, limit])
        : await query<OrderRow>(pool, `${orderSelect} WHERE o.user_id = $1 ORDER BY o.id DESC LIMIT $2`, [userId, limit]);
      return rows.map(toOrder);
    },
  };
}
