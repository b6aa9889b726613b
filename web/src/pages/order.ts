import { ApiError, type Order, type OrderStatus } from '../api';
import { delay, formatDate, formatPrice, h, shortId } from '../dom';
import { clearNotices, showProblem } from '../notices';
import type { Page } from '../page';

const statusText: Record<OrderStatus, { label: string; explain: string }> = {
  PENDING: { label: 'Pending', explain: 'We are placing your order and taking the payment. This page updates by itself.' },
  PAID: { label: 'Paid', explain: 'Your order is paid. Thank you!' },
  PAYMENT_FAILED: { label: 'Payment failed', explain: 'The payment was declined; nothing was charged and the items went back on sale.' },
  REJECTED: { label: 'Rejected', explain: 'We could not place the order; nothing was charged.' },
  CANCELLED: { label: 'Cancelled', explain: 'The order could not be completed in time; nothing was charged and the items went back on sale.' },
};

export const statusBadge = (status: OrderStatus) => h('span', { class: `badge badge-${status.toLowerCase()}` }, statusText[status].label);

// Back-off while an order is pending: quick at first (payment usually takes well under a second), then gentler.
const firstPollMs = 500;
const maxPollMs = 8000;
// An order just accepted may not be readable for a moment (it is placed from the checkout event).
const acceptedOrderGraceMs = 2 * 60_000;

export const orderPage: Page = async ({ api, params, query, signal, show }) => {
  const id = params.id!;
  const justPlaced = query.get('placed') === '1';
  const status = h('p', { class: 'order-status', role: 'status' });
  const details = h('div');
  show(`Order ${shortId(id)}`, status, details);

  const render = (order: Order) => {
    const text = statusText[order.status];
    status.replaceChildren(statusBadge(order.status), ' ', text.explain, order.reason ? ` Reason: ${order.reason}` : '');
    const parts = [
      h(
        'ul',
        { class: 'order-lines', 'aria-label': 'Ordered products' },
        order.items.map((item) =>
          h('li', {}, h('span', {}, `${item.quantity} × `, h('a', { href: `/products/${item.productId}` }, item.name)), h('span', {}, formatPrice(item.unitPrice * item.quantity))),
        ),
      ),
      h('p', { class: 'cart-sum' }, 'Total ', h('strong', {}, formatPrice(order.total))),
      h('p', { class: 'muted' }, `Placed ${formatDate(order.createdAt)} · last change ${formatDate(order.updatedAt)}`),
      order.payment ? h('p', { class: 'muted' }, `Payment ${order.payment.status.toLowerCase()}: ${formatPrice(order.payment.amount)}${order.payment.reason ? ` (${order.payment.reason})` : ''}`) : null,
      h('p', {}, h('a', { href: '/orders' }, 'All your orders')),
    ];
    details.replaceChildren(...parts.filter((part) => part !== null));
  };

  const started = Date.now();
  let wait = firstPollMs;
  for (;;) {
    try {
      const order = await api.getOrder(id, signal);
      clearNotices();
      render(order);
      if (order.status !== 'PENDING') return;
    } catch (error) {
      if (signal.aborted) return;
      const stillBeingPlaced = justPlaced && error instanceof ApiError && error.code === 'not_found' && Date.now() - started < acceptedOrderGraceMs;
      if (stillBeingPlaced) status.replaceChildren(statusBadge('PENDING'), ' Your order was accepted and is being placed. This page updates by itself.');
      else if (error instanceof ApiError && (error.status === 0 || error.status === 503)) showProblem(error); // keep polling
      else throw error;
    }
    await delay(wait, signal).catch(() => undefined);
    if (signal.aborted) return;
    wait = Math.min(wait * 1.6, maxPollMs);
  }
};
