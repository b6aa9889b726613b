import { formatDate, formatPrice, h, shortId } from '../dom';
import type { Page } from '../page';
import { statusBadge } from './order';

export const ordersPage: Page = async ({ api, query, signal, show }) => {
  const cursor = query.get('cursor') ?? undefined;
  const page = await api.listOrders(cursor, signal);
  if (page.items.length === 0 && !cursor) {
    show('Your orders', h('p', {}, 'You have no orders yet.'), h('p', {}, h('a', { href: '/' }, 'Browse the catalog')));
    return;
  }
  show(
    'Your orders',
    h(
      'ul',
      { class: 'order-list', 'aria-label': 'Orders, newest first' },
      page.items.map((order) => {
        const units = order.items.reduce((sum, item) => sum + item.quantity, 0);
        return h(
          'li',
          { 'data-order-id': order.id },
          h('a', { href: `/orders/${order.id}` }, `Order ${shortId(order.id)}`),
          h('span', { class: 'muted' }, formatDate(order.createdAt)),
          h('span', {}, `${units} ${units === 1 ? 'item' : 'items'} · ${formatPrice(order.total)}`),
          h('span', {}, statusBadge(order.status), order.payment?.status === 'REFUNDED' ? h('span', { class: 'badge badge-refunded' }, 'Refunded') : null),
        );
      }),
    ),
    h(
      'nav',
      { class: 'pager', 'aria-label': 'Order pages' },
      cursor ? h('a', { href: '/orders' }, 'Newest orders') : null,
      page.nextCursor ? h('a', { href: `/orders?cursor=${encodeURIComponent(page.nextCursor)}`, rel: 'next' }, 'Older orders') : null,
    ),
  );
};
