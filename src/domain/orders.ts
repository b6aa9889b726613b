import { z } from 'zod';
import { AppError } from '../errors.js';
import type { CartCheckedOut, OutgoingEvent, PaymentProcessed, TraceContext } from './events.js';
import { isUuid, uuidv7 } from './ids.js';
import { centsFromNumber, numberFromCents, type Cents } from './money.js';

export const orderStatuses = ['PENDING', 'PAID', 'PAYMENT_FAILED', 'REJECTED', 'CANCELLED'] as const;
export type OrderStatus = (typeof orderStatuses)[number];
export const finalStatuses: readonly OrderStatus[] = ['PAID', 'PAYMENT_FAILED', 'REJECTED', 'CANCELLED'];

export interface OrderLine {
  productId: string;
  name: string;
  unitPriceCents: Cents;
  quantity: number;
}

export interface Payment {
  id: string;
  orderId: string;
  /** PENDING from just before the provider is called until its answer is recorded. */
  status: 'PENDING' | 'SUCCEEDED' | 'FAILED';
  amountCents: Cents;
  reason: string | null;
  createdAt: Date;
}

export interface Order {
  id: string;
  checkoutId: string;
  userId: string;
  status: OrderStatus;
  reason: string | null;
  totalCents: Cents;
  lines: OrderLine[];
  checkedOutAt: Date;
  createdAt: Date;
  updatedAt: Date;
  payment: Payment | null;
}

export type Reservation = { ok: true } | { ok: false; reason: string };

/** The writes of one business transaction; events added to the outbox commit with them. */
export interface OrderUnitOfWork {
  /** Inserts the order and its lines; false when an order with this id exists (a redelivery). */
  insertOrder(order: Omit<Order, 'createdAt' | 'updatedAt' | 'payment'>): Promise<boolean>;
  /** Takes every line's quantity from stock, or nothing and says why. */
  reserveStock(lines: readonly OrderLine[]): Promise<Reservation>;
  /**
   * Moves an order from one status to another and answers when it was checked out; undefined when it
   * is not in `from` (transitions only go forward).
   */
  transition(orderId: string, from: OrderStatus, to: OrderStatus, reason?: string): Promise<{ checkedOutAt: Date } | undefined>;
  /** Gives an order's reserved quantities back to stock. */
  releaseStock(orderId: string): Promise<void>;
  /** Locks the order's row for the rest of the transaction and answers its status (undefined: no such order). */
  lockOrder(orderId: string): Promise<OrderStatus | undefined>;
  /** Records a payment; false when the order already has one. */
  insertPayment(payment: Omit<Payment, 'createdAt'>): Promise<boolean>;
  /** The order's payment, if one was started. */
  paymentOf(orderId: string): Promise<Pick<Payment, 'id' | 'status'> | undefined>;
  /** Notes that the resolver published the order's (or its checkout's) event again, so it waits before the next time. */
  markRedriven(orderId: string): Promise<void>;
  /**
   * Locks a PENDING payment's row for the rest of the transaction; false when it is no longer PENDING
   * or another transaction holds it (that one is resuming it: no waiting).
   */
  lockPendingPayment(paymentId: string): Promise<boolean>;
  /** Records the provider's answer for a PENDING payment; false when it is no longer PENDING. */
  settlePayment(paymentId: string, status: 'SUCCEEDED' | 'FAILED', reason: string | null): Promise<boolean>;
  addToOutbox(event: OutgoingEvent): Promise<void>;
}

export interface OrderStore {
  /** Runs `work` in one transaction; events it added to the outbox are published after commit. */
  transaction<T>(work: (uow: OrderUnitOfWork) => Promise<T>): Promise<T>;
  get(orderId: string): Promise<Order | undefined>;
  /** The user's orders with id below `before`, newest first. */
  listForUser(userId: string, limit: number, before: string | undefined): Promise<Order[]>;
}

export type CheckoutOutcome = 'created' | 'rejected' | 'duplicate';

/** orders function, on CartCheckedOut: one order per checkout, stock reserved or the order rejected. */
export async function placeOrderFromCheckout(store: OrderStore, event: CartCheckedOut, trace: TraceContext): Promise<CheckoutOutcome> {
  const lines: OrderLine[] = event.items.map((item) => ({
    productId: item.productId,
    name: item.name,
    unitPriceCents: centsFromNumber(item.unitPrice)!,
    quantity: item.quantity,
  }));
  const totalCents = lines.reduce((sum, line) => sum + line.unitPriceCents * line.quantity, 0);
  return store.transaction(async (uow) => {
    const inserted = await uow.insertOrder({
      id: event.orderId,
      checkoutId: event.checkoutId,
      userId: event.userId,
      status: 'PENDING',
      reason: null,
      totalCents,
      lines,
      checkedOutAt: new Date(event.occurredAt),
    });
    if (!inserted) return 'duplicate';
    const reservation = await uow.reserveStock(lines);
    if (!reservation.ok) {
      await uow.transition(event.orderId, 'PENDING', 'REJECTED', reservation.reason);
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

export type PaymentOutcome = { status: 'PAID' | 'PAYMENT_FAILED'; checkedOutAt: Date } | undefined;

/** orders function, on PaymentSucceeded/PaymentFailed: PENDING -> PAID, or PAYMENT_FAILED with stock released. */
export async function applyPaymentResult(
  store: OrderStore,
  type: 'PaymentSucceeded' | 'PaymentFailed',
  event: PaymentProcessed,
): Promise<PaymentOutcome> {
  const status = type === 'PaymentSucceeded' ? 'PAID' : 'PAYMENT_FAILED';
  return store.transaction(async (uow) => {
    const moved = await uow.transition(event.orderId, 'PENDING', status, event.reason);
    if (!moved) return undefined;
    if (status === 'PAYMENT_FAILED') await uow.releaseStock(event.orderId);
    return { status, checkedOutAt: moved.checkedOutAt };
  });
}

export const orderSchema = z.object({
  id: z.string(),
  status: z.enum(orderStatuses),
  reason: z.string().optional(),
  items: z.array(z.object({ productId: z.string(), name: z.string(), unitPrice: z.number(), quantity: z.int() })),
  total: z.number(),
  createdAt: z.iso.datetime(),
  updatedAt: z.iso.datetime(),
  payment: z
    .object({ id: z.string(), status: z.enum(['SUCCEEDED', 'FAILED']), amount: z.number(), reason: z.string().optional(), createdAt: z.iso.datetime() })
    .optional(),
});

export type OrderView = z.infer<typeof orderSchema>;

export function orderView(order: Order): OrderView {
  return {
    id: order.id,
    status: order.status,
    ...(order.reason ? { reason: order.reason } : {}),
    items: order.lines.map((line) => ({ productId: line.productId, name: line.name, unitPrice: numberFromCents(line.unitPriceCents), quantity: line.quantity })),
    total: numberFromCents(order.totalCents),
    createdAt: order.createdAt.toISOString(),
    updatedAt: order.updatedAt.toISOString(),
    // A payment is shown once the provider has answered.
    ...(order.payment && order.payment.status !== 'PENDING'
      ? {
          payment: {
            id: order.payment.id,
            status: order.payment.status,
            amount: numberFromCents(order.payment.amountCents),
            ...(order.payment.reason ? { reason: order.payment.reason } : {}),
            createdAt: order.payment.createdAt.toISOString(),
          },
        }
      : {}),
  };
}

const notFoundOrder = (id: string) => new AppError('not_found', `No order with id ${JSON.stringify(id.slice(0, 100))}`);

export function orderQueries(store: OrderStore) {
  return {
    /** An order of the caller's; any order for readers with Orders.Read.All; otherwise 404 (not 403: no hint it exists). */
    async get(orderId: string, caller: { userId: string; canReadAll: boolean }): Promise<OrderView> {
      const order = isUuid(orderId) ? await store.get(orderId) : undefined;
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
