import { formatPrice, h } from '../dom';
import type { Page } from '../page';

export const catalogPage: Page = async ({ api, query, signal, show, canEditCatalog }) => {
  const cursor = query.get('cursor') ?? undefined;
  const page = await api.listProducts(cursor, signal);
  const items = page.items.map((product) =>
    h(
      'li',
      { class: 'card' },
      h('h2', {}, h('a', { href: `/products/${product.id}` }, product.name)),
      product.description ? h('p', { class: 'muted clamp' }, product.description) : null,
      h('p', { class: 'price' }, formatPrice(product.price)),
      h('p', { class: product.stock > 0 ? 'stock' : 'stock stock-out' }, product.stock > 0 ? `${product.stock} in stock` : 'Out of stock'),
      canEditCatalog ? h('p', {}, h('a', { href: `/admin/products/${product.id}`, 'aria-label': `Edit ${product.name}` }, 'Edit')) : null,
    ),
  );
  show(
    'Catalog',
    items.length > 0 ? h('ul', { class: 'cards', 'aria-label': 'Products' }, items) : h('p', {}, 'No products here.'),
    h(
      'nav',
      { class: 'pager', 'aria-label': 'Catalog pages' },
      cursor ? h('a', { href: '/' }, 'First page') : null,
      page.nextCursor ? h('a', { href: `/?cursor=${encodeURIComponent(page.nextCursor)}`, rel: 'next' }, 'Next page') : null,
    ),
  );
};
