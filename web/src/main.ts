import './styles.css';
import { ApiError, ShopApi } from './api';
import { createAuth, SigningIn, type Auth } from './auth';
import { loadConfig } from './config';
import { h } from './dom';
import { clearNotices, describeError, showProblem } from './notices';
import type { Page, PageContext } from './page';
import { cartPage } from './pages/cart';
import { catalogPage } from './pages/catalog';
import { orderPage } from './pages/order';
import { ordersPage } from './pages/orders';
import { productPage } from './pages/product';
import { productFormPage } from './pages/productForm';

const routes: { pattern: RegExp; page: Page }[] = [
  { pattern: /^\/$/, page: catalogPage },
  { pattern: /^\/products\/(?<id>[^/]+)$/, page: productPage },
  { pattern: /^\/cart$/, page: cartPage },
  { pattern: /^\/orders$/, page: ordersPage },
  { pattern: /^\/orders\/(?<id>[^/]+)$/, page: orderPage },
  { pattern: /^\/admin\/products\/new$/, page: productFormPage },
  { pattern: /^\/admin\/products\/(?<id>[^/]+)$/, page: productFormPage },
];

const main = document.getElementById('main')!;
const nav = document.getElementById('nav')!;

function show(title: string, ...content: (Node | null)[]): void {
  document.title = `${title} · Shop`;
  main.replaceChildren(h('h1', { tabindex: -1 }, title), ...content.filter((node): node is Node => node !== null));
}

function renderNav(auth: Auth, canEditCatalog: boolean, cartCount: number | undefined): void {
  const session = auth.session();
  if (!session) return nav.replaceChildren();
  const here = window.location.pathname;
  const link = (href: string, label: string, ...extra: Node[]) =>
    h('a', { href, 'aria-current': (href === '/' ? here === '/' : here.startsWith(href)) ? 'page' : undefined }, label, ...extra);
  nav.replaceChildren(
    h(
      'ul',
      {},
      h('li', {}, link('/', 'Catalog')),
      h('li', {}, link('/cart', 'Cart', cartCount ? h('span', { class: 'count', 'aria-label': `, ${cartCount} items` }, String(cartCount)) : h('span'))),
      h('li', {}, link('/orders', 'Orders')),
      canEditCatalog ? h('li', {}, link('/admin/products/new', 'New product')) : null,
      h('li', { class: 'account' }, h('span', { class: 'muted' }, session.displayName), h('button', { type: 'button', class: 'link-button', onclick: () => void auth.signOut() }, 'Sign out')),
    ),
  );
}

async function start(): Promise<void> {
  const config = await loadConfig();
  const auth = await createAuth(config.auth);
  if (!auth.session()) {
    show(
      'Welcome to the shop',
      h('p', {}, 'Sign in to browse the catalog, fill your cart and follow your orders.'),
      h('p', {}, h('button', { type: 'button', class: 'primary', onclick: () => void auth.signIn().catch(() => undefined) }, 'Sign in')),
    );
    return;
  }

  // A refused token means the session is over: sign in again, unless that just happened (a loop would never end).
  const reauthItem = 'shop.reauthenticatedAt';
  const onUnauthorized = async (error: ApiError) => {
    const last = Number(sessionStorage.getItem(reauthItem) ?? 0);
    if (Date.now() - last < 30_000) return;
    sessionStorage.setItem(reauthItem, String(Date.now()));
    showProblem(new ApiError(error.status, 'Please sign in again', `${error.detail} Taking you to sign in…`, error.code));
    await auth.signIn().catch(() => undefined);
  };
  const api = new ShopApi(config.apiBaseUrl, auth.accessToken, onUnauthorized);
  const canEditCatalog = (await auth.roles()).includes('Products.Write');
  let cartCount: number | undefined;
  let current: AbortController | undefined;

  const route = async (focus: boolean) => {
    current?.abort();
    const controller = new AbortController();
    current = controller;
    const path = window.location.pathname;
    renderNav(auth, canEditCatalog, cartCount);
    const match = routes.map(({ pattern, page }) => ({ page, found: pattern.exec(path) })).find(({ found }) => found);
    if (!match) {
      show('Page not found', h('p', {}, 'There is no page at this address.'), h('p', {}, h('a', { href: '/' }, 'Go to the catalog')));
      return;
    }
    main.setAttribute('aria-busy', 'true');
    const context: PageContext = {
      api,
      params: match.found!.groups ?? {},
      query: new URLSearchParams(window.location.search),
      signal: controller.signal,
      canEditCatalog,
      navigate,
      show: (title, ...content) => {
        show(title, ...content);
        main.removeAttribute('aria-busy');
        if (focus) main.querySelector('h1')?.focus();
      },
      cartChanged: (cart) => {
        cartCount = cart.items.reduce((sum, line) => sum + line.quantity, 0);
        renderNav(auth, canEditCatalog, cartCount);
      },
    };
    try {
      await match.page(context);
    } catch (error) {
      if (controller.signal.aborted || error instanceof SigningIn) return;
      const { title } = describeError(error);
      show(title, h('p', {}, h('a', { href: '/' }, 'Go to the catalog')));
      showProblem(error);
    } finally {
      main.removeAttribute('aria-busy');
    }
  };

  function navigate(path: string): void {
    window.history.pushState(null, '', path);
    clearNotices();
    void route(true);
  }

  // Links inside the app change the page without reloading it.
  document.addEventListener('click', (event) => {
    const link = (event.target as Element | null)?.closest?.('a');
    if (!link || event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
    const url = new URL(link.href, window.location.href);
    if (url.origin !== window.location.origin || link.target || link.hasAttribute('download') || url.hash) return;
    event.preventDefault();
    navigate(url.pathname + url.search);
  });
  window.addEventListener('popstate', () => {
    clearNotices();
    void route(true);
  });

  // The cart count in the navigation; the page being shown reports errors of its own.
  void api.getCart().then((cart) => {
    cartCount ??= cart.items.reduce((sum, line) => sum + line.quantity, 0);
    renderNav(auth, canEditCatalog, cartCount);
  }, () => undefined);
  await route(false);
}

start().catch((error: unknown) => {
  if (error instanceof SigningIn) return;
  show('The shop could not start', h('p', {}, 'Reload the page to try again.'));
  showProblem(error);
});
