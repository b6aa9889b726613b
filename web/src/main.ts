import './styles.css';
import { ApiError, ShopApi } from './api';
import { createAuth, SigningIn, type Auth } from './auth';
import { loadConfig } from './config';
import { h } from './dom';
import { clearNotices, describeError, showProblem, type ErrorSubject } from './notices';
import type { Page, PageContext } from './page';
import { cartPage } from './pages/cart';
import { catalogPage } from './pages/catalog';
import { checkoutPage } from './pages/checkout';
import { orderPage } from './pages/order';
import { ordersPage } from './pages/orders';
import { productPage } from './pages/product';
import { productFormPage } from './pages/productForm';

interface Route {
  pattern: RegExp;
  page: Page;
  /** A page a signed-out visitor may try: the API answers it without a token when the catalog is public. */
  public?: boolean;
  /** What a "not found" on this page is about, for its wording. */
  subject?: ErrorSubject;
}

const routes: Route[] = [
  { pattern: /^\/$/, page: catalogPage, public: true },
  { pattern: /^\/search$/, page: catalogPage, public: true },
  { pattern: /^\/categories\/(?<category>[^/]+)$/, page: catalogPage, public: true },
  { pattern: /^\/products\/(?<id>[^/]+)$/, page: productPage, public: true, subject: 'product' },
  { pattern: /^\/cart$/, page: cartPage },
  { pattern: /^\/checkout$/, page: checkoutPage },
  { pattern: /^\/orders$/, page: ordersPage },
  { pattern: /^\/orders\/(?<id>[^/]+)$/, page: orderPage, subject: 'order' },
  { pattern: /^\/admin\/products\/new$/, page: productFormPage },
  { pattern: /^\/admin\/products\/(?<id>[^/]+)$/, page: productFormPage, subject: 'product' },
];

const main = document.getElementById('main')!;
const nav = document.getElementById('nav')!;
const search = document.getElementById('search') as HTMLFormElement;

function show(title: string, ...content: (Node | null)[]): void {
  document.title = `${title} · Shop`;
  main.replaceChildren(h('h1', { tabindex: -1 }, title), ...content.filter((node): node is Node => node !== null));
}

function signInButton(auth: Auth, label = 'Sign in') {
  return h('button', { type: 'button', class: 'primary', onclick: () => void auth.signIn().catch(() => undefined) }, label);
}

function renderNav(auth: Auth, canEditCatalog: boolean, cartCount: number | undefined): void {
  const session = auth.session();
  const here = window.location.pathname;
  const link = (href: string, label: string, ...extra: Node[]) =>
    h('a', { href, 'aria-current': (href === '/' ? here === '/' : here.startsWith(href)) ? 'page' : undefined }, label, ...extra);
  if (!session) {
    nav.replaceChildren(h('ul', {}, h('li', {}, link('/', 'Catalog')), h('li', { class: 'account' }, h('button', { type: 'button', class: 'link-button', onclick: () => void auth.signIn().catch(() => undefined) }, 'Sign in'))));
    return;
  }
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

function welcome(auth: Auth): void {
  show(
    'Welcome to the shop',
    h('p', {}, 'Sign in to browse the catalog, fill your cart and follow your orders.'),
    h('p', {}, signInButton(auth)),
  );
}

async function start(): Promise<void> {
  const config = await loadConfig();
  const auth = await createAuth(config.auth);
  const signedIn = auth.session() !== undefined;

  // A refused token means the session is over: sign in again, unless that just happened (a loop would never end).
  const reauthItem = 'shop.reauthenticatedAt';
  const onUnauthorized = async (error: ApiError) => {
    const last = Number(sessionStorage.getItem(reauthItem) ?? 0);
    if (Date.now() - last < 30_000) return;
    sessionStorage.setItem(reauthItem, String(Date.now()));
    showProblem(error);
    await auth.signIn().catch(() => undefined);
  };
  const api = new ShopApi(config.apiBaseUrl, { signedIn: () => signedIn, accessToken: auth.accessToken }, onUnauthorized);
  const canEditCatalog = signedIn && (await auth.roles()).includes('Products.Write');
  let cartCount: number | undefined;
  let current: AbortController | undefined;

  const route = async (focus: boolean) => {
    current?.abort();
    const controller = new AbortController();
    current = controller;
    const path = window.location.pathname;
    const query = new URLSearchParams(window.location.search);
    renderNav(auth, canEditCatalog, cartCount);
    (search.elements.namedItem('q') as HTMLInputElement).value = path === '/search' ? (query.get('q') ?? '') : '';
    const match = routes.map((candidate) => ({ ...candidate, found: candidate.pattern.exec(path) })).find(({ found }) => found);
    if (!match) {
      show('Page not found', h('p', {}, 'There is no page at this address.'), h('p', {}, h('a', { href: '/' }, 'Go to the catalog')));
      return;
    }
    if (!signedIn && !match.public) return welcome(auth);
    main.setAttribute('aria-busy', 'true');
    const context: PageContext = {
      api,
      params: Object.fromEntries(Object.entries(match.found!.groups ?? {}).map(([name, value]) => [name, decodeURIComponent(value)])),
      query,
      signal: controller.signal,
      signedIn,
      canEditCatalog,
      navigate,
      signIn: (returnTo) => auth.signIn(returnTo),
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
      // The catalog is not public here: a visitor must sign in to see it.
      if (!signedIn && error instanceof ApiError && error.status === 401) return welcome(auth);
      // One heading says what went wrong; no alert repeats it.
      const { title, detail } = describeError(error, match.subject);
      show(title, h('p', { role: 'alert', 'data-code': error instanceof ApiError ? error.code : undefined }, detail), h('p', {}, h('a', { href: '/' }, 'Go to the catalog')));
      if (focus) main.querySelector('h1')?.focus();
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
  search.addEventListener('submit', (event) => {
    event.preventDefault();
    const q = (search.elements.namedItem('q') as HTMLInputElement).value.trim();
    navigate(q ? `/search?${new URLSearchParams({ q })}` : '/');
  });
  search.hidden = false;

  // The cart count in the navigation; the page being shown reports errors of its own.
  if (signedIn) {
    void api.getCart().then((cart) => {
      cartCount ??= cart.items.reduce((sum, line) => sum + line.quantity, 0);
      renderNav(auth, canEditCatalog, cartCount);
    }, () => undefined);
  }
  await route(false);
}

start().catch((error: unknown) => {
  if (error instanceof SigningIn) return;
  show('The shop could not start', h('p', { role: 'alert' }, describeError(error).detail));
});
