import { ApiError, type Order, type OrderStatus } from '../api';
import { delay, formatDate, formatPrice, h, shortId } from '../dom';
import { clearNotices, showNotice, showProblem } from '../notices';
import type { Page, PageContext } from '../page';
import { countryName } from './checkout';

const statusLabel: Record<OrderStatus, string> = {
  PENDING: 'Pending',
  PAID: 'Paid',
  PAYMENT_FAILED: 'Payment failed',
  REJECTED: 'Rejected',
  CANCELLED: 'Cancelled',
};

/** What the order's state means to the shopper, in words (never the API's internal reason, which may name ids). */
function explain(order: Order): string {
  const paid = order.payment?.status;
  switch (order.status) {
    case 'PENDING':
      return order.cancelRequested
        ? 'You cancelled this order. It ends as soon as the payment in progress has an answer (if it went through, it is refunded). This page updates by itself.'
        : 'We are placing your order and taking the payment. This page updates by itself.';
    case 'PAID':
      return 'Your order is paid. Thank you!';
    case 'PAYMENT_FAILED':
      return 'The payment was declined; nothing was charged and the items went back on sale.';
    case 'REJECTED':
      return 'We could not place the order: a product ran out or is no longer sold. Nothing was charged.';
    case 'CANCELLED':
      if (order.cancelReason !== 'customer') return 'The order could not be completed in time; nothing was charged and the items went back on sale.';
      if (paid === 'REFUNDED') return `You cancelled this order. Your payment of ${formatPrice(order.payment!.amount)} was refunded.`;
      if (paid === 'SUCCEEDED' || paid === 'PENDING' || paid === 'REFUNDING') return 'You cancelled this order. Your refund is on its way; this page updates by itself.';
      return 'You cancelled this order. Nothing was charged.';
  }
}

export const statusBadge = (status: OrderStatus) => h('span', { class: `badge badge-${status.toLowerCase()}` }, statusLabel[status]);

/** Still changing by itself: being placed, or cancelled with a refund not yet made. */
const settling = (order: Order) =>
  order.status === 'PENDING' || (order.status === 'CANCELLED' && ['SUCCEEDED', 'PENDING', 'REFUNDING'].includes(order.payment?.status ?? ''));
const cancellable = (order: Order) => (order.status === 'PENDING' && !order.cancelRequested) || order.status === 'PAID';

// Back-off while an order is settling: quick at first (payment usually takes well under a second), then gentler.
const firstPollMs = 500;
const maxPollMs = 8000;
// An order just accepted may not be readable for a moment (it is placed from the checkout event).
const acceptedOrderGraceMs = 2 * 60_000;

export const orderPage: Page = async (context) => {
  const { api, params, query, signal, show } = context;
  const id = params.id!;
  const justPlaced = query.get('placed') === '1';
  const status = h('p', { class: 'order-status', role: 'status' });
  const details = h('div');
  show(`Order ${shortId(id)}`, status, details);

  // After a cancel: show the answer, and follow the refund if one is on its way.
  const onChanged = (order: Order) => {
    render(order);
    void follow().catch(() => undefined);
  };
  const render = (order: Order) => {
    status.replaceChildren(statusBadge(order.status), order.payment?.status === 'REFUNDED' ? h('span', { class: 'badge badge-refunded' }, 'Refunded') : '', ' ', explain(order));
    details.replaceChildren(...orderDetails(context, order, { onChanged }));
  };

  // Polls while the order settles; one loop at a time (a cancel restarts it when it had stopped).
  let following = false;
  let busyShown = false;
  const follow = async () => {
    if (following) return;
    following = true;
    const started = Date.now();
    let wait = firstPollMs;
    try {
      for (;;) {
        try {
          const order = await api.getOrder(id, signal);
          // Only the polls' own "shop is busy" goes once an answer comes; a confirmation ("cancelled") stays.
          if (busyShown) clearNotices();
          busyShown = false;
          render(order);
          if (!settling(order)) return;
        } catch (error) {
          if (signal.aborted) return;
          const stillBeingPlaced = justPlaced && error instanceof ApiError && error.code === 'not_found' && Date.now() - started < acceptedOrderGraceMs;
          if (stillBeingPlaced) status.replaceChildren(statusBadge('PENDING'), ' Your order was accepted and is being placed. This page updates by itself.');
          else if (error instanceof ApiError && (error.status === 0 || error.status === 503)) {
            showProblem(error); // and keep polling
            busyShown = true;
          }
          else throw error;
        }
        await delay(wait, signal).catch(() => undefined);
        if (signal.aborted) return;
        wait = Math.min(wait * 1.6, maxPollMs);
      }
    } finally {
      following = false;
    }
  };
  await follow();
};

function orderDetails(context: PageContext, order: Order, handlers: { onChanged(order: Order): void }): Node[] {
  const address = order.shippingAddress;
  const payment = order.payment;
  const paymentText = !payment
    ? null
    : payment.status === 'REFUNDED'
      ? `Refunded ${formatPrice(payment.amount)}${payment.refundedAt ? ` on ${formatDate(payment.refundedAt)}` : ''}.`
      : payment.status === 'SUCCEEDED'
        ? `Paid ${formatPrice(payment.amount)} on ${formatDate(payment.createdAt)}.`
        : payment.status === 'FAILED'
          ? `Payment of ${formatPrice(payment.amount)} declined${payment.reason ? `: ${payment.reason}` : ''}.`
          : payment.status === 'REFUNDING'
            ? `Refund of ${formatPrice(payment.amount)} in progress.`
            : `Payment of ${formatPrice(payment.amount)} in progress.`;
  const parts: (Node | null)[] = [
    h(
      'ul',
      { class: 'order-lines', 'aria-label': 'Ordered products' },
      order.items.map((item) =>
        h(
          'li',
          {},
          h('span', {}, `${item.quantity} × `, h('a', { href: `/products/${item.productId}` }, item.name)),
          h('span', { class: 'muted' }, `${formatPrice(item.unitPrice)} each`),
          h('span', { class: 'line-total' }, formatPrice(item.unitPrice * item.quantity)),
        ),
      ),
    ),
    h('p', { class: 'cart-sum' }, 'Total ', h('strong', {}, formatPrice(order.total))),
    address
      ? h(
          'section',
          { class: 'address', 'aria-labelledby': 'ship-to' },
          h('h2', { id: 'ship-to' }, 'Shipping to'),
          h('p', {}, [address.name, address.line1, address.line2, `${address.postalCode} ${address.city}`, countryName(address.country)].filter(Boolean).flatMap((line, i) => (i === 0 ? [line!] : [h('br'), line!]))),
        )
      : null,
    h('p', { class: 'muted' }, `Placed ${formatDate(order.createdAt)} · last change ${formatDate(order.updatedAt)}`),
    paymentText ? h('p', { class: 'muted', 'data-testid': 'payment' }, paymentText) : null,
    cancellable(order) ? cancelControl(context, order, handlers.onChanged) : null,
    h('p', {}, h('a', { href: '/orders' }, 'All your orders')),
  ];
  return parts.filter((part): part is Node => part !== null);
}

/** "Cancel order", confirmed in a modal dialog that says what happens to the money. */
function cancelControl(context: PageContext, order: Order, onChanged: (order: Order) => void): HTMLElement {
  const money =
    order.status === 'PAID' ? `Your payment of ${formatPrice(order.total)} will be refunded.` : 'If the payment has already gone through, it will be refunded.';
  const confirm = h('button', { type: 'button', class: 'danger' }, 'Yes, cancel the order');
  const keep = h('button', { type: 'button', onclick: () => dialog.close() }, 'Keep the order');
  const dialog = h(
    'dialog',
    { class: 'confirm', 'aria-labelledby': 'cancel-title', 'aria-describedby': 'cancel-detail' },
    h('h2', { id: 'cancel-title' }, `Cancel order ${shortId(order.id)}?`),
    h('p', { id: 'cancel-detail' }, `${money} The items go back on sale. This cannot be undone.`),
    h('div', { class: 'actions' }, confirm, keep),
  );
  confirm.addEventListener('click', async () => {
    confirm.disabled = true;
    try {
      const cancelled = await context.api.cancelOrder(order.id);
      dialog.close();
      onChanged(cancelled);
      showNotice(`Order ${shortId(order.id)} is cancelled.`);
    } catch (error) {
      dialog.close();
      showProblem(error);
      // Refused because the order moved on meanwhile (its payment failed): show where it stands now.
      if (error instanceof ApiError && error.code === 'order_not_cancellable') void context.api.getOrder(order.id, context.signal).then(onChanged, () => undefined);
    } finally {
      confirm.disabled = false;
    }
  });
  const open = h('button', { type: 'button', class: 'danger', onclick: () => dialog.showModal() }, 'Cancel order');
  return h('div', { class: 'actions' }, open, dialog);
}
