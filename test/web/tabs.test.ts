import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Storefront } from '../../scripts/storefront.js';
import { addToCart, createProduct } from '../support/pipeline.js';
import { uniqueUser, type Shop } from '../support/shop.js';
import { fillAddress, seriousAccessibilityViolations, signIn, startBrowserShop, type BrowserShop, type TestBrowser } from './browser.js';

/*
 * The storefront across tabs, reloads and devices: one sign-in for every tab of a browser, a
 * checkout raced by two tabs (or two devices) that lands both on the one order, a reload while
 * "Place order" waits, and paging back and forth through the catalog.
 */
describe('storefront across tabs and reloads', () => {
  let running: BrowserShop;
  let shop: Shop;
  let storefront: Storefront;
  let browser: TestBrowser;
  let productId: string;
  const productName = `Tabs test bowl ${uniqueUser('b')}`;

  beforeAll(async () => {
    running = await startBrowserShop();
    ({ shop, storefront, browser } = running);
    productId = await createProduct(shop, { name: productName, price: 3.5, stock: 10_000 });
  });

  afterAll(() => running?.stop());

  const ordersOf = async (user: string) => ((await (await shop.call('/orders', { token: await shop.token({ user }) })).json()) as { items: { id: string }[] }).items.map((o) => o.id);
  const orderIdOf = (page: Page) => new URL(page.url()).pathname.split('/').pop()!;
  /** A new browser of `user`'s, with one bowl in the cart and the checkout form filled in. */
  const checkoutFormOf = async (user: string) => {
    const opened = await browser.newPage();
    await signIn(opened.page, `${storefront.url}/products/${productId}`, { name: user });
    await opened.page.getByRole('button', { name: 'Add to cart' }).click();
    await opened.page.getByRole('link', { name: 'View cart' }).click();
    await opened.page.getByRole('link', { name: 'Check out' }).click();
    await fillAddress(opened.page);
    return opened;
  };

  it('when a person has signed in in one tab, then another tab of the browser is signed in too', async () => {
    const { context, page } = await browser.newPage();
    await signIn(page, `${storefront.url}/`, { preset: 'alice' });
    const second = await context.newPage();
    await second.goto(`${storefront.url}/orders`);
    await second.getByRole('heading', { name: 'Your orders', level: 1 }).waitFor();
    expect(await second.getByRole('button', { name: 'Sign out' }).count()).toBe(1);
    expect(second.url()).toBe(`${storefront.url}/orders`); // never went to the issuer's page
    // MSAL's cache is in localStorage, encrypted: no token lies there in the clear.
    const stored = await second.evaluate<string>('Object.values(localStorage).join("\\n")');
    expect(stored).not.toMatch(/eyJ[\w-]+\.eyJ[\w-]+\./);
    await context.close();
  });

  it('when two tabs of a browser check out the same cart, then the tab that did not place it lands on the order too', async () => {
    const user = uniqueUser('two-tabs');
    const { context, page: first } = await browser.newPage();
    await signIn(first, `${storefront.url}/products/${productId}`, { name: user });
    await first.getByLabel('Quantity').fill('4');
    await first.getByRole('button', { name: 'Add to cart' }).click();
    await first.getByRole('link', { name: 'View cart' }).click();
    await first.getByRole('link', { name: 'Check out' }).click();
    const second = await context.newPage();
    await second.goto(`${storefront.url}/checkout`);
    await fillAddress(second);
    await fillAddress(first);

    await first.getByRole('button', { name: 'Place order' }).click();
    await first.waitForURL(/\/orders\/[0-9a-f-]+/);
    // The other tab hears of it and shows that order, not a stale cart with an active button.
    await second.waitForURL(new RegExp(`/orders/${orderIdOf(first)}`));
    await expect.poll(() => second.locator('.notice-ok').textContent()).toContain('ordered in another tab or window');
    await expect.poll(() => second.getByRole('status').textContent(), { timeout: 30_000 }).toContain('Paid');
    expect(await ordersOf(user)).toEqual([orderIdOf(first)]);
    await context.close();
  });

  it('when the cart was ordered on another device meanwhile, then "Place order" lands on that order instead of "The cart is empty"', async () => {
    const user = uniqueUser('two-devices');
    const token = await shop.token({ user });
    await addToCart(shop, token, productId, 4);
    const { context, page } = await browser.newPage();
    await signIn(page, `${storefront.url}/checkout`, { name: user });
    await fillAddress(page);
    expect(await page.getByRole('list', { name: 'Products to order' }).textContent()).toContain(`4 × ${productName}`);

    const elsewhere = await shop.call('/cart/checkout', { method: 'POST', token });
    expect(elsewhere.status).toBe(202);
    const { orderId } = (await elsewhere.json()) as { orderId: string };
    await page.getByRole('button', { name: 'Place order' }).click();
    await page.waitForURL(new RegExp(`/orders/${orderId}`));
    await expect.poll(() => page.locator('.notice-ok').textContent()).toContain('already been ordered');
    expect(await page.locator('body').textContent()).not.toContain('cart is empty');
    expect(await ordersOf(user)).toEqual([orderId]);
    await context.close();
  });

  it('when the page is reloaded while "Place order" waits for its answer, then it shows the order that was placed, and only one is', async () => {
    const user = uniqueUser('reload');
    const { context, page } = await checkoutFormOf(user);

    // The checkout reaches the API, which accepts it, but its answer never reaches the page: the person
    // reloads. The held request stays unanswered (an unrouted one would be sent on and could win the race).
    let reached!: () => void;
    const accepted = new Promise<void>((resolve) => (reached = resolve));
    let requests = 0;
    await page.route('**/api/cart/checkout', async (route) => {
      if (requests++ > 0) return route.continue();
      const answer = await route.fetch();
      expect(answer.status()).toBe(202);
      reached();
    });
    await page.getByRole('button', { name: 'Place order' }).click();
    await accepted;
    await page.reload();

    await page.waitForURL(/\/orders\/[0-9a-f-]+/);
    await expect.poll(() => page.getByRole('status').textContent(), { timeout: 30_000 }).toContain('Paid');
    expect(await ordersOf(user)).toEqual([orderIdOf(page)]);
    expect(await seriousAccessibilityViolations(page)).toEqual([]);
    await context.close();
  });

  it('when the answer to "Place order" arrives just as the page reloads, then the reloaded checkout shows that order, not an empty cart', async () => {
    const user = uniqueUser('reload-late');
    const { context, page } = await checkoutFormOf(user);
    await page.getByRole('button', { name: 'Place order' }).click();
    await page.waitForURL(/\/orders\/[0-9a-f-]+/);
    const placed = orderIdOf(page);

    // The browser was already reloading the checkout's address when the page moved on.
    await page.goto(`${storefront.url}/checkout`);
    await page.waitForURL(new RegExp(`/orders/${placed}`));
    await expect.poll(() => page.locator('.notice-ok').textContent()).toContain('Your order was placed');
    expect(await ordersOf(user)).toEqual([placed]);
    await context.close();
  });

  it('when a person pages forward through the catalog, then "Previous page" goes back one page at a time', async () => {
    for (let n = 0; n < 25; n++) await createProduct(shop, { name: `Paging filler ${n} ${uniqueUser('p')}`, price: 1 + n, stock: 5 });
    const { context, page } = await browser.newPage();
    await signIn(page, `${storefront.url}/`, { preset: 'bob' });
    const pageUrls = [page.url()];
    for (let n = 2; n <= 3; n++) {
      await page.getByRole('link', { name: 'Next page' }).click();
      await page.waitForURL((url) => url.toString() !== pageUrls.at(-1));
      await expect.poll(() => page.getByRole('navigation', { name: 'Catalog pages' }).textContent()).toContain(`Page ${n}`);
      pageUrls.push(page.url());
    }
    expect(await seriousAccessibilityViolations(page)).toEqual([]);
    await page.getByRole('link', { name: 'Previous page' }).click();
    await page.waitForURL(pageUrls[1]!);
    await expect.poll(() => page.getByRole('navigation', { name: 'Catalog pages' }).textContent()).toContain('Page 2');
    await page.getByRole('link', { name: 'Previous page' }).click();
    await page.waitForURL(pageUrls[0]!);
    await page.locator('main[aria-busy]').waitFor({ state: 'detached' }); // the URL changes before the page is shown
    expect(await page.getByRole('link', { name: 'Previous page' }).count()).toBe(0);

    // A page opened from a link, without this tab's trail, offers the first page instead.
    const other = await context.browser()!.newContext();
    const fresh = await other.newPage();
    await signIn(fresh, pageUrls[2]!, { preset: 'bob' });
    await fresh.getByRole('link', { name: 'First page' }).waitFor();
    await other.close();
    await context.close();
  });
});
