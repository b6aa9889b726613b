import { z } from 'zod';
import { AppError } from '../errors.js';
import { cancelReasons, type CancelReason, type CartCheckedOut, type OutgoingEvent, type PaymentProcessed, type TraceContext } from './events.js';
import { isUuid, uuidv7 } from './ids.js';
import { centsFromNumber, numberFromCents, type Cents } from './money.js';
import type { ShippingAddress } from './shippingAddress.js';
import { cancellableStatuses, orderEntries, orderStatuses, orderTransition, visiblePaymentStatuses, type OrderStatus, type PaymentStatus } from './orderLifecycle.js';

export { orderStatuses, type OrderStatus } from './orderLifecycle.js';

export interface OrderLine {
  productId: string;
  name: string;
  unitPriceCents: Cents;
  quantity: number;
}

export interface Payment {
  id: string;
  orderId: string;
  /** PENDING from just before the provider is called until its answer is recorded (orderLifecycle.ts). */
  status: PaymentStatus;
  amountCents: Cents;
  reason: string | null;
  createdAt: Date;
  /** When its refund was confirmed by the provider (REFUNDED). */
  refundedAt?: Date | null;
}

export interface Order {
  id: string;
  checkoutId: string;
  userId: string;
  status: OrderStatus;
  reason: string | null;
  /** Why a CANCELLED order was cancelled. */
  cancelReason: CancelReason | null;
  totalCents: Cents;
  shippingAddress: ShippingAddress | null;
  /** Where the customer's notifications go (taken from the token at checkout). */
  email: string | null;
  /** The customer asked to cancel while its payment was in flight: it is cancelled when the result is applied. */
  cancelRequested?: boolean;
  lines: OrderLine[];
  checkedOutAt: Date;
  createdAt: Date;
  updatedAt: Date;
  payment: Payment | null;
}

export type Reservation = { ok: true } | { ok: false; reason: string };

/** A new order as a checkout places it. */
export type OrderToPlace = Omit<Order, 'createdAt' | 'updatedAt' | 'payment'> & { status: 'PENDING' };

/** A payment to start: its id (the attempt's), its order and amount, and how long its first lease lasts. */
export interface PaymentStart {
  id: string;
  orderId: string;
  amountCents: Cents;
  leaseMs: number;
}

export type PaymentStartOutcome = 'started' | 'exists' | 'order_not_pending';

/** The provider's final answer for a payment, to record on it while it is PENDING. */
export interface PaymentSettlement {
  paymentId: string;
  status: 'SUCCEEDED' | 'FAILED';
  reason: string | null;
  providerReference: string;
}

/** A payment's result for its PENDING order: PAID, or PAYMENT_FAILED with the decline's reason. */
export interface PaymentResultMove {
  orderId: string;
  to: 'PAID' | 'PAYMENT_FAILED';
  change: Pick<OrderChange, 'reason'>;
}

/** What a transition records besides the status. */
export interface OrderChange {
  reason?: string;
  cancelReason?: CancelReason;
  /** OrderCancelled: whether the order's charge is refunded. */
  refunded?: boolean;
}

export interface MovedOrder {
  userId: string;
  totalCents: Cents;
  checkedOutAt: Date;
}

const now = () => new Date().toISOString();

/** The event a transition of the table emits, for an order in the state `moved`. */
function eventOf(type: 'OrderPaid' | 'OrderCancelled', orderId: string, moved: Pick<MovedOrder, 'userId' | 'totalCents'>, change: OrderChange, trace?: TraceContext): OutgoingEvent {
  const order = { orderId, userId: moved.userId };
  if (type === 'OrderPaid') return { id: uuidv7(), type, payload: { ...order, total: numberFromCents(moved.totalCents), occurredAt: now() }, ...(trace ? { trace } : {}) };
  return { id: uuidv7(), type, payload: { ...order, reason: change.cancelReason ?? 'timeout', refunded: change.refunded ?? false, occurredAt: now() }, ...(trace ? { trace } : {}) };
}

/**
 * Takes one transition of the order's table (orderLifecycle.ts) with its effects, in the caller's
 * transaction: the status, stock given back when the table says so, and the event it emits.
 * Undefined when the order is no longer in `from` (another transaction moved it first), or, with
 * `unlessCancelRequested`, when its customer asked to cancel it.
 */
export async function moveOrder(
  uow: OrderUnitOfWork,
  orderId: string,
  from: OrderStatus,
  to: OrderStatus,
  change: OrderChange = {},
  trace?: TraceContext,
  { unlessCancelRequested = false }: { unlessCancelRequested?: boolean } = {},
): Promise<MovedOrder | undefined> {
  const transition = orderTransition(from, to);
  if (!transition) throw new Error(`An order cannot go from ${from} to ${to}`);
  const moved = await uow.transition(orderId, from, to, change, unlessCancelRequested);
  if (moved) await afterMove(uow, orderId, from, to, moved, change, trace);
  return moved;
}

/** The effects of a transition whose status change is written: stock given back when the table says so, and its event. */
async function afterMove(uow: OrderUnitOfWork, orderId: string, from: OrderStatus, to: OrderStatus, moved: MovedOrder, change: OrderChange, trace?: TraceContext): Promise<void> {
  const transition = orderTransition(from, to)!;
  if (transition.releasesStock) await uow.releaseStock(orderId);
  if (transition.emits) await uow.addToOutbox(eventOf(transition.emits, orderId, moved, change, trace));
}

/**
 * Writes a new order in one of its entry statuses but PENDING, with the event that entry emits; false
 * when it exists. A PENDING order enters with its stock reserved (OrderStore.placeOrder).
 */
export async function enterOrder(
  uow: OrderUnitOfWork,
  order: Omit<Order, 'createdAt' | 'updatedAt' | 'payment'> & { status: Exclude<keyof typeof orderEntries, 'PENDING'> },
  change: OrderChange = {},
): Promise<boolean> {
  if (!(await uow.insertOrder(order))) return false;
  const entry: { emits?: 'OrderCancelled' } = orderEntries[order.status];
  if (entry.emits) await uow.addToOutbox(eventOf(entry.emits, order.id, order, change));
  return true;
}

/** The writes of one business transaction; events added to the outbox commit with them. */
export interface OrderUnitOfWork {
  /** Inserts the order and its lines; false when an order with this id exists (a redelivery). */
  insertOrder(order: Omit<Order, 'createdAt' | 'updatedAt' | 'payment'>): Promise<boolean>;
  /**
   * Moves an order from one status to another (only moveOrder calls it, for a transition of the
   * table) and answers what its events need; undefined when it is not in `from`, or, with
   * `unlessCancelRequested`, when its customer asked to cancel it.
   */
  transition(orderId: string, from: OrderStatus, to: OrderStatus, change: OrderChange, unlessCancelRequested?: boolean): Promise<MovedOrder | undefined>;
  /** Gives an order's reserved quantities back to stock. */
  releaseStock(orderId: string): Promise<void>;
  /** Locks the order's row for the rest of the transaction and answers its status (undefined: no such order). */
  lockOrder(orderId: string): Promise<OrderStatus | undefined>;
  /** The order's payment, if one was started. */
  paymentOf(orderId: string): Promise<Pick<Payment, 'id' | 'status' | 'amountCents'> | undefined>;
  /** Notes that the resolver published the order's (or its checkout's) event again, so it waits before the next time. */
  markRedriven(orderId: string): Promise<void>;
  /**
   * Leases a PENDING payment to `holder` for `leaseMs` from now, only if its current lease has
   * expired: atomic under the payment's row lock, so of two takers one wins and the other gets false
   * (as it does when the payment is settled or its lease is still live).
   */
  takeOverPayment(paymentId: string, holder: string, leaseMs: number): Promise<boolean>;
  /** Notes, on a locked PENDING order, that its customer asked to cancel it. */
  requestCancel(orderId: string): Promise<void>;
  /** Whether the customer asked to cancel the (locked) order while its payment was in flight. */
  cancelRequested(orderId: string): Promise<boolean>;
  /** SUCCEEDED -> REFUNDING with a new refund key, its lease free to take at once; false when it was not SUCCEEDED. */
  startRefund(paymentId: string, refundId: string): Promise<boolean>;
  /** Leases a REFUNDING payment whose lease is free to `holder`; what the refund needs, or undefined. */
  leaseRefund(paymentId: string, holder: string, leaseMs: number): Promise<{ refundId: string; orderId: string; amountCents: Cents } | undefined>;
  /** REFUNDING -> REFUNDED with the provider's reference and refundedAt; false when it was not REFUNDING. */
  completeRefund(paymentId: string, providerReference: string): Promise<boolean>;
  addToOutbox(event: OutgoingEvent): Promise<void>;
}

/**
 * Which stream a transaction belongs to; a store may run the two side by side. `payments`: a
 * payment's lease, result and refund, which lock their order's row and its payment rows and never a
 * product's. `orders` (the default): everything else, placements and stock releases among it.
 */
export type TransactionLane = 'orders' | 'payments';

export interface OrderStore {
  /**
   * Runs `work` in one transaction; events it added to the outbox are published after commit. The
   * transaction may be shared with concurrent ones (group commit) and `work` run again if another's
   * failure rolled the shared one back, so `work` touches nothing but `uow`.
   */
  transaction<T>(work: (uow: OrderUnitOfWork) => Promise<T>, lane?: TransactionLane): Promise<T>;
  /**
   * Inserts a PENDING order and its lines and takes every line's quantity from stock, or takes
   * nothing and says why (the order is inserted either way); `exists` when an order with this id or
   * checkout exists (a redelivery), and then nothing is written. Then runs `then` with that answer, in
   * the same transaction and under the same terms as `transaction`'s work (orders lane). Placements
   * that arrive together may share one statement, their stock decided one after another.
   */
  placeOrder<T>(order: OrderToPlace, then: (reservation: Reservation | 'exists', uow: OrderUnitOfWork) => Promise<T>): Promise<T>;
  /**
   * Locks the order's row and, if the order is PENDING and has no payment, records a PENDING payment
   * leased to the attempt whose id it carries, for `leaseMs` from now (the database's clock):
   * `started`; `exists` when the order already has a payment, and `order_not_pending` (nothing
   * written) when the order is not PENDING or does not exist. Then runs `then` with that answer, in
   * the same transaction and under the same terms as `transaction`'s work (payments lane). Starts that
   * arrive together may share one statement.
   */
  startPayment<T>(payment: PaymentStart, then: (started: PaymentStartOutcome, uow: OrderUnitOfWork) => Promise<T>): Promise<T>;
  /**
   * Records the provider's answer on the payment if it is still PENDING: true, or false (nothing
   * written) when it was settled already. Then runs `then` with that answer, in the same transaction
   * and under the same terms as `transaction`'s work (payments lane). Settlements that arrive together
   * may share one statement.
   */
  settlePayment<T>(settlement: PaymentSettlement, then: (settled: boolean, uow: OrderUnitOfWork) => Promise<T>): Promise<T>;
  /**
   * Writes the status of a payment's result on its order if the order is PENDING and its customer did
   * not ask to cancel it (as `transition` from PENDING with `unlessCancelRequested`): what moved, or
   * undefined when nothing did. Then runs `then` with that answer, in the same transaction and under
   * the same terms as `transaction`'s work (orders lane); `then` takes the transition's other effects
   * (applyPaymentResult). Moves that arrive together may share one statement.
   */
  moveOnPaymentResult<T>(move: PaymentResultMove, then: (moved: MovedOrder | undefined, uow: OrderUnitOfWork) => Promise<T>): Promise<T>;
  get(orderId: string): Promise<Order | undefined>;
  /** The checkout accepted for this order while the order is not placed yet (its CartCheckedOut is on its way). */
  acceptedCheckout(orderId: string): Promise<CartCheckedOut | undefined>;
  /** The user's orders with id below `before`, newest first. */
  listForUser(userId: string, limit: number, before: string | undefined): Promise<Order[]>;
}

export type CheckoutOutcome = 'created' | 'rejected' | 'duplicate';

/** The PENDING order a checkout makes: its lines, their total, its address and recipient. */
export function orderOfCheckout(event: CartCheckedOut) {
  const lines: OrderLine[] = event.items.map((item) => ({
    productId: item.productId,
    name: item.name,
    unitPriceCents: centsFromNumber(item.unitPrice)!,
    quantity: item.quantity,
  }));
  return {
    id: event.orderId,
    checkoutId: event.checkoutId,
    userId: event.userId,
    status: 'PENDING' as const,
    reason: null,
    cancelReason: null,
    totalCents: lines.reduce((sum, line) => sum + line.unitPriceCents * line.quantity, 0),
    lines,
    shippingAddress: event.shippingAddress ?? null,
    email: event.email ?? null,
    checkedOutAt: new Date(event.occurredAt),
  };
}

/** orders function, on CartCheckedOut: one order per checkout, stock reserved or the order rejected. */
export async function placeOrderFromCheckout(store: OrderStore, event: CartCheckedOut, trace: TraceContext): Promise<CheckoutOutcome> {
  const order = orderOfCheckout(event);
  const { totalCents } = order;
  // One call inserts and reserves: the PENDING entry emits nothing (orderEntries), or it would be added here.
  return store.placeOrder(order, async (reservation, uow) => {
    if (reservation === 'exists') return 'duplicate';
    if (!reservation.ok) {
      await moveOrder(uow, event.orderId, 'PENDING', 'REJECTED', { reason: reservation.reason }, trace);
      return 'rejected';
    }
    await uow.addToOutbox({
      id: uuidv7(),
      type: 'OrderCreated',
      payload: { orderId: event.orderId, userId: event.userId, total: numberFromCents(totalCents), occurredAt: new Date().toISOString() },
      trace,
    });
    return 'created';
  });
}

export type PaymentOutcome = { status: 'PAID' | 'PAYMENT_FAILED' | 'CANCELLED'; checkedOutAt: Date; refundOf?: string } | undefined;

/**
 * orders function, on PaymentSucceeded/PaymentFailed: PENDING -> PAID, or PAYMENT_FAILED with stock
 * released. An order its customer asked to cancel while the payment was in flight is CANCELLED
 * instead, and a succeeded payment starts its refund (`refundOf`: the caller finishes it).
 */
export async function applyPaymentResult(
  store: OrderStore,
  type: 'PaymentSucceeded' | 'PaymentFailed',
  event: PaymentProcessed,
  trace?: TraceContext,
): Promise<PaymentOutcome> {
  const status = type === 'PaymentSucceeded' ? 'PAID' : 'PAYMENT_FAILED';
  const change = event.reason ? { reason: event.reason } : {};
  // Most results find their order PENDING with no cancel request: one guarded move takes the row lock
  // and applies the result. A cancel request committed first makes it move nothing, and one that
  // comes later waits for this transaction and finds the result applied.
  return store.moveOnPaymentResult({ orderId: event.orderId, to: status, change }, async (direct, uow): Promise<PaymentOutcome> => {
    if (direct) {
      await afterMove(uow, event.orderId, 'PENDING', status, direct, change, trace);
      return { status, checkedOutAt: direct.checkedOutAt };
    }
    // Otherwise under the order's lock: a redelivered result (not PENDING), or a cancel requested while the payment was in flight.
    if ((await uow.lockOrder(event.orderId)) !== 'PENDING') return undefined;
    if (await uow.cancelRequested(event.orderId)) {
      const refunded = type === 'PaymentSucceeded' && (await uow.startRefund(event.paymentId, uuidv7()));
      const moved = await moveOrder(uow, event.orderId, 'PENDING', 'CANCELLED', { cancelReason: 'customer', refunded }, trace);
      return moved && { status: 'CANCELLED', checkedOutAt: moved.checkedOutAt, ...(refunded ? { refundOf: event.paymentId } : {}) };
    }
    const moved = await moveOrder(uow, event.orderId, 'PENDING', status, change, trace);
    return moved && { status, checkedOutAt: moved.checkedOutAt };
  });
}

export type CancelOutcome = { order: OrderView; refundOf?: string };

const notCancellable = (status: OrderStatus) => new AppError('order_not_cancellable', `An order that is ${status} cannot be cancelled`, { extensions: { orderStatus: status } });

/**
 * POST /orders/{id}/cancel, for the order's owner: under the order's row lock, so a payment starting,
 * a result being applied or another cancel are ordered before or after it, never between.
 * - PENDING, no payment started: CANCELLED now, stock back (a payment starting later finds it
 *   CANCELLED and never charges).
 * - PENDING, payment in flight: the request is recorded; the order is cancelled when the result is
 *   applied (applyPaymentResult), and refunded if the payment succeeded.
 * - PENDING with a settled payment not yet applied, or PAID: CANCELLED now, stock back, and a
 *   succeeded payment becomes REFUNDING with its refund key, in the same transaction (`refundOf`:
 *   the caller finishes the refund; the resolver does if the caller cannot).
 * - CANCELLED: the order as it is (a repeated cancel changes nothing).
 * - PAYMENT_FAILED / REJECTED: 409 order_not_cancellable. Another user's order: 404.
 */
export async function cancelOrder(store: OrderStore, orderId: string, userId: string): Promise<CancelOutcome> {
  if (!isUuid(orderId)) throw notFoundOrder(orderId);
  if (!(await store.get(orderId))) {
    // Accepted but not placed yet (the 202 came first): the order is entered CANCELLED, with no stock
    // reserved, and placing it later finds it there and does nothing. One placed meanwhile wins the
    // insert, and is cancelled below like any other.
    const checkout = await store.acceptedCheckout(orderId);
    if (!checkout || checkout.userId !== userId) throw notFoundOrder(orderId);
    const change = { cancelReason: 'customer', refunded: false } as const;
    if (await store.transaction((uow) => enterOrder(uow, { ...orderOfCheckout(checkout), status: 'CANCELLED', cancelReason: 'customer' }, change))) {
      return { order: orderView((await store.get(orderId))!) };
    }
  }
  const existing = await store.get(orderId);
  if (!existing || existing.userId !== userId) throw notFoundOrder(orderId);
  const outcome = await store.transaction(async (uow): Promise<{ refusedAt?: OrderStatus; refundOf?: string }> => {
    const status = await uow.lockOrder(orderId);
    if (status === 'CANCELLED') return {};
    // Refused after the transaction, not thrown inside it: a throw rolls back the group-commit batch it shares.
    if (!status || !cancellableStatuses.includes(status)) return { refusedAt: status ?? existing.status };
    const payment = await uow.paymentOf(orderId);
    if (status === 'PENDING' && payment?.status === 'PENDING') {
      await uow.requestCancel(orderId);
      return {};
    }
    const refunded = payment?.status === 'SUCCEEDED' && (await uow.startRefund(payment.id, uuidv7()));
    await moveOrder(uow, orderId, status, 'CANCELLED', { cancelReason: 'customer', refunded });
    return refunded ? { refundOf: payment.id } : {};
  });
  if (outcome.refusedAt) throw notCancellable(outcome.refusedAt);
  return { order: orderView((await store.get(orderId))!), ...(outcome.refundOf ? { refundOf: outcome.refundOf } : {}) };
}

export const orderSchema = z.object({
  id: z.string(),
  status: z.enum(orderStatuses),
  reason: z.string().optional(),
  cancelReason: z.enum(cancelReasons).optional(),
  /** The customer asked to cancel while the payment was in flight; the order is cancelled once its result is known. */
  cancelRequested: z.literal(true).optional(),
  items: z.array(z.object({ productId: z.string(), name: z.string(), unitPrice: z.number(), quantity: z.int() })),
  total: z.number(),
  shippingAddress: z
    .object({ name: z.string(), line1: z.string(), line2: z.string().optional(), city: z.string(), postalCode: z.string(), country: z.string().length(2) })
    .nullable(),
  createdAt: z.iso.datetime(),
  updatedAt: z.iso.datetime(),
  payment: z
    .object({
      id: z.string(),
      status: z.enum(visiblePaymentStatuses),
      amount: z.number(),
      reason: z.string().optional(),
      createdAt: z.iso.datetime(),
      refundedAt: z.iso.datetime().optional(),
    })
    .optional(),
});

export type OrderView = z.infer<typeof orderSchema>;

const isVisible = (status: PaymentStatus): status is (typeof visiblePaymentStatuses)[number] => (visiblePaymentStatuses as readonly PaymentStatus[]).includes(status);

export function orderView(order: Order): OrderView {
  return {
    id: order.id,
    status: order.status,
    ...(order.reason ? { reason: order.reason } : {}),
    ...(order.cancelReason ? { cancelReason: order.cancelReason } : {}),
    ...(order.cancelRequested && order.status === 'PENDING' ? { cancelRequested: true as const } : {}),
    items: order.lines.map((line) => ({ productId: line.productId, name: line.name, unitPrice: numberFromCents(line.unitPriceCents), quantity: line.quantity })),
    total: numberFromCents(order.totalCents),
    shippingAddress: order.shippingAddress,
    createdAt: order.createdAt.toISOString(),
    updatedAt: order.updatedAt.toISOString(),
    ...(order.payment && isVisible(order.payment.status)
      ? {
          payment: {
            id: order.payment.id,
            status: order.payment.status,
            amount: numberFromCents(order.payment.amountCents),
            ...(order.payment.reason ? { reason: order.payment.reason } : {}),
            createdAt: order.payment.createdAt.toISOString(),
            ...(order.payment.refundedAt ? { refundedAt: order.payment.refundedAt.toISOString() } : {}),
          },
        }
      : {}),
  };
}

/** An order whose checkout was accepted (202, Location) but is not placed yet, as it will be placed: PENDING. */
async function acceptedOrder(store: OrderStore, orderId: string): Promise<Order | undefined> {
  const checkout = await store.acceptedCheckout(orderId);
  if (!checkout) return undefined;
  const acceptedAt = new Date(checkout.occurredAt);
  return { ...orderOfCheckout(checkout), createdAt: acceptedAt, updatedAt: acceptedAt, payment: null };
}

const notFoundOrder = (id: string) => new AppError('not_found', `No order with id ${JSON.stringify(id.slice(0, 100))}`);

export function orderQueries(store: OrderStore) {
  return {
    /** An order of the caller's; any order for readers with Orders.Read.All; otherwise 404 (not 403: no hint it exists). */
    async get(orderId: string, caller: { userId: string; canReadAll: boolean }): Promise<OrderView> {
      if (!isUuid(orderId)) throw notFoundOrder(orderId);
      const order = (await store.get(orderId)) ?? (await acceptedOrder(store, orderId));
      if (!order || (order.userId !== caller.userId && !caller.canReadAll)) throw notFoundOrder(orderId);
      return orderView(order);
    },

    async list(userId: string, limit: number, cursor: string | undefined): Promise<{ items: OrderView[]; nextCursor: string | null }> {
      let before: string | undefined;
      if (cursor !== undefined) {
        before = Buffer.from(cursor, 'base64url').toString('utf8');
        if (!isUuid(before)) throw new AppError('invalid_request', 'The cursor is not one this API returned');
      }
      const page = await store.listForUser(userId, limit + 1, before);
      const items = page.slice(0, limit);
      return { items: items.map(orderView), nextCursor: page.length > limit ? Buffer.from(items.at(-1)!.id).toString('base64url') : null };
    },
  };
}
