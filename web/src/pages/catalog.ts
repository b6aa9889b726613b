import type { Category, Product, ProductQuery, ProductSort } from '../api';
import { formatPrice, h } from '../dom';
import type { Page, PageContext } from '../page';
import { picture, placeholder, stockLine } from './productParts';

const sortLabels: Record<ProductSort, string> = {
  relevance: 'Best match',
  newest: 'Newest',
  price: 'Price: low to high',
  '-price': 'Price: high to low',
  name: 'Name: A to Z',
};

/*
 * Keyset paging only knows the way forward (the API's nextCursor). To offer "Previous page", each page
 * remembers, per tab, which cursor led to the next one and its page number; a page opened from a
 * shared link without that trail offers "First page" instead.
 */
const trailItem = 'shop.catalogTrail';
const maxTrail = 500;
type Trail = Record<string, { previous: string | null; page: number }>;
const readTrail = (): Trail => {
  try {
    return (JSON.parse(sessionStorage.getItem(trailItem) ?? '{}') as Trail) ?? {};
  } catch {
    return {};
  }
};
function remember(trail: Trail, next: string, step: Trail[string]): void {
  trail[next] = step;
  const keys = Object.keys(trail);
  for (const old of keys.slice(0, Math.max(0, keys.length - maxTrail))) delete trail[old];
  sessionStorage.setItem(trailItem, JSON.stringify(trail));
}

const priceParam = (value: string | null) => (value !== null && value !== '' && Number.isFinite(Number(value)) ? Number(value) : undefined);

/** The catalog, a category (/categories/<slug>) or search results (/search?q=), with sort, price filter and paging. */
export const catalogPage: Page = async (context) => {
  const { api, query, params, signal } = context;
  const q = window.location.pathname === '/search' ? (query.get('q') ?? '').trim() : '';
  const sort = (Object.keys(sortLabels) as ProductSort[]).find((s) => s === query.get('sort'));
  const productQuery: ProductQuery = {
    q: q || undefined,
    category: params.category,
    sort,
    minPrice: priceParam(query.get('minPrice')),
    maxPrice: priceParam(query.get('maxPrice')),
    cursor: query.get('cursor') ?? undefined,
  };
  // Categories are navigation only: an API without them still shows the catalog.
  const [page, categories] = await Promise.all([api.listProducts(productQuery, signal), api.listCategories(signal).catch((): Category[] => [])]);
  render(context, productQuery, page.items, page.nextCursor, categories);
};

function render(context: PageContext, productQuery: ProductQuery, products: Product[], nextCursor: string | null, categories: Category[]): void {
  const { show, canEditCatalog, navigate } = context;
  const path = window.location.pathname;
  const category = productQuery.category ? categories.find((c) => c.slug === productQuery.category) : undefined;
  const title = productQuery.q ? `Results for “${productQuery.q}”` : productQuery.category ? (category?.name ?? productQuery.category) : 'Catalog';

  // The same query at another cursor (none: its first page).
  const at = (cursor: string | null) => {
    const search = new URLSearchParams(window.location.search);
    search.delete('cursor');
    if (cursor) search.set('cursor', cursor);
    const text = search.toString();
    return text ? `${path}?${text}` : path;
  };

  const trail = readTrail();
  const here = productQuery.cursor ? trail[productQuery.cursor] : { previous: null, page: 1 };
  if (nextCursor && here) remember(trail, nextCursor, { previous: productQuery.cursor ?? null, page: here.page + 1 });

  const cards = products.map((product) =>
    h(
      'li',
      { class: 'card' },
      product.images?.[0] ? picture(product.images[0]) : placeholder(undefined),
      h('h2', {}, h('a', { href: `/products/${product.id}` }, product.name)),
      product.description ? h('p', { class: 'muted clamp' }, product.description) : null,
      h('p', { class: 'price' }, formatPrice(product.price)),
      stockLine(product),
      canEditCatalog ? h('p', {}, h('a', { href: `/admin/products/${product.id}`, 'aria-label': `Edit ${product.name}` }, 'Edit')) : null,
    ),
  );

  const sortSelect = h(
    'select',
    { id: 'sort', name: 'sort' },
    (Object.entries(sortLabels) as [ProductSort, string][])
      .filter(([value]) => value !== 'relevance' || productQuery.q)
      .map(([value, label]) => h('option', { value, selected: value === (productQuery.sort ?? (productQuery.q ? 'relevance' : 'newest')) }, label)),
  );
  const minPrice = h('input', { id: 'min-price', name: 'minPrice', type: 'number', inputmode: 'decimal', min: 0, step: '0.01', value: productQuery.minPrice ?? '' });
  const maxPrice = h('input', { id: 'max-price', name: 'maxPrice', type: 'number', inputmode: 'decimal', min: 0, step: '0.01', value: productQuery.maxPrice ?? '' });
  const filters = h(
    'form',
    {
      class: 'filters',
      'aria-label': 'Sort and filter',
      onsubmit: (event: Event) => {
        event.preventDefault();
        maxPrice.setCustomValidity(minPrice.value && maxPrice.value && maxPrice.valueAsNumber < minPrice.valueAsNumber ? 'The highest price must not be below the lowest.' : '');
        if (!filters.reportValidity()) return;
        const search = new URLSearchParams();
        if (productQuery.q) search.set('q', productQuery.q);
        if (sortSelect.value !== (productQuery.q ? 'relevance' : 'newest')) search.set('sort', sortSelect.value);
        if (minPrice.value) search.set('minPrice', minPrice.value);
        if (maxPrice.value) search.set('maxPrice', maxPrice.value);
        const text = search.toString();
        navigate(text ? `${path}?${text}` : path);
      },
    },
    h('div', { class: 'filter' }, h('label', { for: 'sort' }, 'Sort by'), sortSelect),
    h('div', { class: 'filter' }, h('label', { for: 'min-price' }, 'Lowest price (USD)'), minPrice),
    h('div', { class: 'filter' }, h('label', { for: 'max-price' }, 'Highest price (USD)'), maxPrice),
    h('button', { type: 'submit' }, 'Apply'),
  );

  const categoryNav =
    categories.length > 0
      ? h(
          'nav',
          { class: 'categories', 'aria-label': 'Categories' },
          h(
            'ul',
            {},
            h('li', {}, h('a', { href: '/', 'aria-current': path === '/' ? 'page' : undefined }, 'All products')),
            categories.map((c) =>
              h(
                'li',
                {},
                h('a', { href: `/categories/${encodeURIComponent(c.slug)}`, 'aria-current': c.slug === productQuery.category ? 'page' : undefined }, c.name, ' ', h('span', { class: 'muted' }, `(${c.productCount})`)),
              ),
            ),
          ),
        )
      : null;

  const filtered = productQuery.q || productQuery.category || productQuery.minPrice !== undefined || productQuery.maxPrice !== undefined;
  const empty = productQuery.q
    ? h('p', {}, `No products match “${productQuery.q}”. Try other words, or `, h('a', { href: '/' }, 'browse the catalog'), '.')
    : h('p', {}, filtered ? 'No products match these filters.' : 'No products here.');

  show(
    title,
    categoryNav,
    filters,
    cards.length > 0 ? h('ul', { class: 'cards', 'aria-label': 'Products' }, cards) : empty,
    h(
      'nav',
      { class: 'pager', 'aria-label': 'Catalog pages' },
      productQuery.cursor ? (here ? h('a', { href: at(here.previous), rel: 'prev' }, 'Previous page') : h('a', { href: at(null) }, 'First page')) : null,
      here && (productQuery.cursor || nextCursor) ? h('span', { class: 'muted' }, `Page ${here.page}`) : null,
      nextCursor ? h('a', { href: at(nextCursor), rel: 'next' }, 'Next page') : null,
    ),
  );
}
