import type { EventPayload } from './events.js';
import { numberFromCents } from './money.js';
import type { Order } from './orders.js';

export interface EmailMessage {
  to: string;
  subject: string;
  text: string;
  /** The same for every attempt at one notification: a provider that deduplicates on it sends it once. */
  notificationKey: string;
}

/** Sends email: an SMTP server locally, Azure Communication Services Email in Azure. */
export interface Notifier {
  /** Resolves once the provider accepted the message; rejects with AppError('dependency_unavailable') while it cannot be reached. */
  send(message: EmailMessage): Promise<void>;
}

/** Which notifications were sent: the sent marker. */
export interface NotificationLedger {
  /**
   * Unless the notification `key` is marked sent, runs `send` with the order as it is now (undefined:
   * no such order) and marks the key when `send` answers 'sent' (any other answer marks nothing),
   * holding a lock on the key throughout so that concurrent duplicates wait and then find it marked.
   * A crash after the send and before the mark leaves it unmarked: it is sent again (at least once).
   */
  sendOnce<R extends string>(key: string, orderId: string, send: (order: Order | undefined) => Promise<'sent' | R>): Promise<'sent' | 'already_sent' | R>;
}

export type NotificationType = 'OrderPaid' | 'OrderCancelled';
export type NotificationOutcome = 'sent' | 'already_sent' | 'no_recipient' | 'unknown_order';

/** One notification per order and event type: an order becomes PAID once and CANCELLED once. */
export const notificationKey = (type: NotificationType, orderId: string) => `${type}/${orderId}`;

const money = (cents: number) => numberFromCents(cents).toFixed(2);
const shortId = (orderId: string) => orderId.slice(-8);

function lines(order: Order): string {
  return order.lines.map((line) => `  ${line.quantity} x ${line.name} at ${money(line.unitPriceCents)}`).join('\n');
}

/** The email for an event about an order. */
export function composeEmail<T extends NotificationType>(type: T, event: EventPayload<T>, order: Order, to: string): EmailMessage {
  const key = notificationKey(type, order.id);
  if (type === 'OrderPaid') {
    const address = order.shippingAddress;
    return {
      to,
      notificationKey: key,
      subject: `Order ${shortId(order.id)} is confirmed`,
      text: [
        `Thank you for your order ${order.id}. Your payment of ${money(order.totalCents)} was received.`,
        '',
        lines(order),
        ...(address ? ['', 'It will be shipped to:', address.name, address.line1, ...(address.line2 ? [address.line2] : []), `${address.postalCode} ${address.city}`, address.country] : []),
      ].join('\n'),
    };
  }
  const cancelled = event as EventPayload<'OrderCancelled'>;
  return {
    to,
    notificationKey: key,
    subject: `Order ${shortId(order.id)} is cancelled`,
    text: [
      cancelled.reason === 'customer' ? `Your order ${order.id} is cancelled, as you asked.` : `Your order ${order.id} could not be completed in time and is cancelled.`,
      cancelled.refunded ? `The payment of ${money(order.totalCents)} is refunded to you.` : 'You were not charged for it.',
      '',
      lines(order),
    ].join('\n'),
  };
}

/**
 * notifications function, on OrderPaid / OrderCancelled: one email to the address taken at checkout.
 * A redelivered event finds the sent marker and sends nothing; an order without an address (its
 * token had none) is skipped.
 */
export async function notifyCustomer<T extends NotificationType>(deps: { ledger: NotificationLedger; notifier: Notifier }, type: T, event: EventPayload<T>): Promise<NotificationOutcome> {
  // The order is read in the marker's transaction: no transaction of its own.
  return deps.ledger.sendOnce(notificationKey(type, event.orderId), event.orderId, async (order) => {
    if (!order) return 'unknown_order' as const;
    if (!order.email) return 'no_recipient' as const;
    await deps.notifier.send(composeEmail(type, event, order, order.email));
    return 'sent' as const;
  });
}
