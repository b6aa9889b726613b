import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { devIssuerConfig, startStorefront, type Storefront } from '../../scripts/storefront.js';
import { startDevIssuer } from '../../src/dev-issuer/index.js';
import { projectRoot } from '../support/hostProcess.js';
import { createProduct } from '../support/pipeline.js';
import { uniqueUser, type Shop } from '../support/shop.js';
import { checkOutFromCart, desktop, fillAddress, sampleAddress, screenshotDir, screenshots, seriousAccessibilityViolations, signIn, startBrowserShop, type BrowserShop, type DevUserChoice, type TestBrowser } from './browser.js';

/*
 * The storefront as a person uses it: web/dist served by the storefront server, signing in through
 * the dev issuer's /authorize page (MSAL, authorization code + PKCE), the API under the local host on
 * real services, driven in Debian's headless Chromium.
 * STOREFRONT_SCREENSHOTS=docs/images also saves the README's screenshots.
 */


describe('storefront in headless Chromium', () => {
  let running: BrowserShop;
  let shop: Shop;
  let storefront: Storefront;
  let browser: TestBrowser;
  const productName = `Storefront test mug ${uniqueUser('m')}`;
  let productId: string;

  beforeAll(async () => {
    running = await startBrowserShop();
    ({ shop, storefront, browser } = running);
    productId = await createProduct(shop, { name: productName, price: 7.25, stock: 1000 });
  });

  afterAll(() => running?.stop());

  const expectAccessible = async (page: Page) => expect(await seriousAccessibilityViolations(page)).toEqual([]);

  /** Opens the storefront at `path` in a new context and signs in through the dev issuer's page. */
  async function signedIn(user: DevUserChoice, path = '/', viewport = desktop) {
    const { context, page } = await browser.newPage(viewport);
    await signIn(page, `${storefront.url}${path}`, user);
    return { context, page };
  }

  /** Pages through the catalog with "Next page" until the product's card shows. */
  async function findInCatalog(page: Page, name: string) {
    await page.getByRole('link', { name: 'Catalog', exact: true }).click();
    for (let pageNumber = 1; pageNumber <= 1000; pageNumber++) {
      await page.getByRole('heading', { name: 'Catalog', level: 1 }).waitFor();
      await page.locator('main[aria-busy]').waitFor({ state: 'detached' });
      const card = page.locator('li.card', { has: page.getByRole('heading', { name, exact: true }) });
      if ((await card.count()) > 0) return card;
      const next = page.getByRole('link', { name: 'Next page' });
      if ((await next.count()) === 0) throw new Error(`${name} is not in the catalog`);
      const before = page.url();
      await next.click();
      await page.waitForURL((url) => url.toString() !== before);
    }
    throw new Error(`${name} not found within 1000 catalog pages`);
  }

  it('when a person signs in, browses to a product, adds two and makes it three, then the order they place is followed to PAID', async () => {
    const { context, page } = await signedIn({ preset: 'alice' });
    await page.getByRole('heading', { name: 'Catalog', level: 1 }).waitFor();
    await expectAccessible(page);
    if (screenshotDir) await screenshots(page, 'catalog');

    // Alice's cart may hold things from earlier runs: start from an empty one.
    await page.getByRole('link', { name: /^Cart/ }).click();
    await page.getByRole('heading', { name: 'Your cart' }).waitFor();
    while ((await page.getByRole('button', { name: /^Remove / }).count()) > 0) {
      const lines = await page.getByRole('button', { name: /^Remove / }).count();
      await page.getByRole('button', { name: /^Remove / }).first().click();
      await expect.poll(() => page.getByRole('button', { name: /^Remove / }).count()).toBe(lines - 1);
    }

    const card = await findInCatalog(page, productName);
    await card.getByRole('link', { name: productName }).click();
    await page.getByRole('heading', { name: productName, level: 1 }).waitFor();
    await expectAccessible(page);
    await page.getByLabel('Quantity').fill('2');
    await page.getByRole('button', { name: 'Add to cart' }).click();
    await expect.poll(() => page.locator('.notice-ok').textContent()).toContain(`Added 2 × ${productName}`);

    await page.getByRole('link', { name: 'View cart' }).click();
    await page.getByRole('heading', { name: 'Your cart' }).waitFor();
    await expect.poll(() => page.getByTestId('cart-total').textContent()).toBe('$14.50');
    await page.getByLabel(`Quantity of ${productName}`).fill('3');
    await page.getByLabel(`Quantity of ${productName}`).press('Tab'); // commits the change, as a person leaving the field does
    await expect.poll(() => page.getByTestId('cart-total').textContent()).toBe('$21.75');
    await expectAccessible(page);
    if (screenshotDir) await screenshots(page, 'cart');

    await page.getByRole('link', { name: 'Check out' }).click();
    await fillAddress(page);
    await expectAccessible(page);
    await page.getByRole('button', { name: 'Place order' }).click();
    await page.waitForURL(/\/orders\/[0-9a-f-]+/);
    await expect.poll(() => page.getByRole('status').textContent(), { timeout: 30_000 }).toContain('Paid');
    // Each line with its unit price, as ordered.
    const line = page.getByRole('list', { name: 'Ordered products' }).getByRole('listitem');
    expect(await line.textContent()).toContain(`3 × ${productName}`);
    expect(await line.textContent()).toContain('$7.25 each');
    expect(await line.textContent()).toContain('$21.75');
    // The address given at checkout, as the API stored it.
    const shipTo = await page.getByRole('region', { name: 'Shipping to' }).textContent();
    for (const part of [sampleAddress.name, sampleAddress.line1, `${sampleAddress.postalCode} ${sampleAddress.city}`, sampleAddress.countryName]) expect(shipTo).toContain(part);
    await expectAccessible(page);
    if (screenshotDir) await screenshots(page, 'order-paid');
    const orderId = new URL(page.url()).pathname.split('/').pop()!;

    await page.getByRole('link', { name: 'All your orders' }).click();
    await page.locator(`li[data-order-id="${orderId}"]`).waitFor();
    await expectAccessible(page);
    await context.close();

    // Another person sees none of it: not in their history, and not by its address.
    const bob = await signedIn({ preset: 'bob' }, '/orders');
    await bob.page.getByRole('heading', { name: /Your orders/ }).waitFor();
    expect(await bob.page.locator(`li[data-order-id="${orderId}"]`).count()).toBe(0);
    await bob.page.goto(`${storefront.url}/orders/${orderId}`);
    // Said in a shopper's words, under one heading: no code, no id, no title twice.
    await bob.page.getByRole('heading', { name: 'We cannot find this order', level: 1 }).waitFor();
    expect(await bob.page.getByRole('alert').textContent()).toBe('It is not one of your orders, or the link is incomplete.');
    const text = (await bob.page.locator('body').textContent())!;
    expect(text).not.toMatch(/not_found|Code:|Not found/);
    expect(text).not.toContain(orderId);
    expect(text.split('We cannot find this order').length - 1).toBe(1);
    await bob.context.close();
  });

  it('when the catalog is not public and a visitor is signed out, then the shop asks them to sign in', async () => {
    const { context, page } = await browser.newPage();
    await page.goto(`${storefront.url}/products/${productId}`);
    await page.getByRole('heading', { name: 'Welcome to the shop', level: 1 }).waitFor();
    expect(await page.locator('main').getByRole('button', { name: 'Sign in' }).count()).toBe(1);
    expect(await page.locator('body').textContent()).not.toContain(productName);
    await context.close();
  });

  it('when "Place order" is double-clicked, then exactly one order is placed', async () => {
    const user = uniqueUser('double');
    const { context, page } = await signedIn({ name: user }, `/products/${productId}`);
    await page.getByRole('button', { name: 'Add to cart' }).click();
    await page.getByRole('link', { name: 'View cart' }).click();
    await checkOutFromCart(page, { placeClick: 'dblclick' });
    await expect.poll(() => page.getByRole('status').textContent(), { timeout: 30_000 }).toContain('Paid');

    const orders = (await (await shop.call('/orders', { token: await shop.token({ user }) })).json()) as { items: { id: string }[] };
    expect(orders.items.map((o) => o.id)).toEqual([new URL(page.url()).pathname.split('/').pop()]);
    await context.close();
  });

  it('when the payment is declined, then the order page follows it to PAYMENT_FAILED and says why', async () => {
    // The simulated provider declines totals above PAYMENT_DECLINE_ABOVE (10 000 by default).
    const pricey = await createProduct(shop, { name: `Storefront gold kettle ${uniqueUser('g')}`, price: 12_000, stock: 5 });
    const { context, page } = await signedIn({ name: uniqueUser('declined') }, `/products/${pricey}`);
    await page.getByRole('button', { name: 'Add to cart' }).click();
    await page.getByRole('link', { name: 'View cart' }).click();
    await checkOutFromCart(page);
    await expect.poll(() => page.getByRole('status').textContent(), { timeout: 30_000 }).toContain('Payment failed');
    expect(await page.getByRole('status').textContent()).toContain('The payment was declined');
    await expect.poll(() => page.locator('main').textContent()).toContain('amount exceeds the card limit');
    await context.close();
  });

  it('when an admin creates a product, then its page shows it', async () => {
    const { context, page } = await signedIn({ preset: 'admin' });
    const name = `Storefront created kettle ${uniqueUser('k')}`;
    await page.getByRole('link', { name: 'New product' }).click();
    await page.getByRole('heading', { name: 'New product' }).waitFor();
    await expectAccessible(page);
    await page.getByLabel('Name').fill(name);
    await page.getByLabel('Description').fill('Made by the browser test.');
    await page.getByLabel('Price (USD)', { exact: true }).fill('19.99');
    await page.getByLabel('Stock').fill('3');
    await page.getByRole('button', { name: 'Create product' }).click();
    await page.getByRole('heading', { name, level: 1 }).waitFor();
    expect(await page.locator('.price-large').textContent()).toBe('$19.99');
    expect(await page.getByText('Only 3 left').count()).toBe(1);
    await context.close();
  });

  it('when a person without Products.Write signs in, then no catalog editing is offered', async () => {
    const { context, page } = await signedIn({ preset: 'bob' }, `/products/${productId}`);
    await page.getByRole('heading', { name: productName, level: 1 }).waitFor();
    expect(await page.getByRole('link', { name: /New product|Edit this product/ }).count()).toBe(0);
    await context.close();
  });

  it('when an admin edits a price, then the catalog shows the new price; a stale edit is refused and said so', async () => {
    const { context, page } = await signedIn({ preset: 'admin' });
    let card = await findInCatalog(page, productName);
    await card.getByRole('link', { name: `Edit ${productName}` }).click();
    await page.getByRole('heading', { name: `Edit ${productName}` }).waitFor();
    await expectAccessible(page);
    await page.getByLabel('Price (USD)', { exact: true }).fill('8.40');
    await page.getByRole('button', { name: 'Save changes' }).click();
    await page.getByRole('heading', { name: productName, level: 1 }).waitFor();
    await expect.poll(() => page.locator('.price-large').textContent()).toBe('$8.40');
    card = await findInCatalog(page, productName);
    expect(await card.locator('.price').textContent()).toBe('$8.40');

    // Someone else changes the product while the form is open: saving must not overwrite it.
    await card.getByRole('link', { name: `Edit ${productName}` }).click();
    await page.getByLabel('Price (USD)', { exact: true }).waitFor();
    const admin = await shop.token({ user: 'other-admin', roles: ['Products.Write'] });
    const changed = await shop.call(`/products/${productId}`, { method: 'PUT', token: admin, body: { name: productName, price: 9.1 } });
    expect(changed.status).toBe(200);
    await page.getByLabel('Price (USD)', { exact: true }).fill('1.00');
    await page.getByRole('button', { name: 'Save changes' }).click();
    await expect.poll(() => page.getByRole('alert').textContent()).toContain('Someone else changed this product');
    expect(await page.getByRole('alert').getAttribute('data-code')).toBe('product_version_mismatch');
    expect(await page.getByRole('alert').textContent()).not.toContain('product_version_mismatch');
    await page.getByRole('button', { name: 'Load the current version' }).click();
    await expect.poll(() => page.getByLabel('Price (USD)', { exact: true }).inputValue()).toBe('9.1');
    await context.close();
  });

  it('when the API cannot be reached, then the page says the shop is busy instead of going blank', async () => {
    const unreachable = await startStorefront({
      distDir: join(projectRoot, 'web/dist'),
      apiOrigin: 'http://127.0.0.1:9', // discard port: nothing listens
      config: devIssuerConfig({ httpsPort: shop.issuer.httpsPort, httpPort: shop.issuer.httpPort }),
      port: 0,
    });
    try {
      const { context, page } = await browser.newPage();
      await page.goto(`${unreachable.url}/cart`);
      await expectAccessible(page); // the signed-out welcome page
      await page.locator('main').getByRole('button', { name: 'Sign in' }).click();
      await page.getByRole('heading', { name: 'Sign in to the dev tenant' }).waitFor();
      await expectAccessible(page);
      await page.getByRole('button', { name: /^Sign in as alice\b/ }).click();
      await page.waitForURL(/\/cart$/);
      await page.getByRole('heading', { name: 'The shop is busy', level: 1 }).waitFor();
      expect(await page.getByRole('alert').textContent()).toContain('Your cart is kept');
      expect(await page.locator('body').textContent()).not.toContain('dependency_unavailable');
      await context.close();
    } finally {
      await unreachable.close();
    }
  });

  it('when the API refuses the token, then the person is sent to sign in again, and not round in circles', async () => {
    // A second dev issuer with keys of its own: its tokens look right but the API does not trust them.
    const stranger = await startDevIssuer({ dir: mkdtempSync(join(tmpdir(), 'shop-issuer-')), httpsPort: 0, httpPort: 0 });
    const untrusted = await startStorefront({
      distDir: join(projectRoot, 'web/dist'),
      apiOrigin: shop.host.baseUrl,
      config: devIssuerConfig({ httpsPort: stranger.httpsPort, httpPort: stranger.httpPort }),
      port: 0,
    });
    try {
      const { context, page } = await browser.newPage();
      await page.goto(`${untrusted.url}/orders`);
      await page.locator('main').getByRole('button', { name: 'Sign in' }).click();
      await page.getByRole('button', { name: /^Sign in as alice\b/ }).click();
      // The API's 401 sends the person back to the sign-in page...
      await page.getByRole('heading', { name: 'Sign in to the dev tenant' }).waitFor();
      await page.getByRole('button', { name: /^Sign in as alice\b/ }).click();
      // ...and when the fresh token is refused too, the problem is shown instead of another redirect.
      await page.waitForURL(/\/orders$/);
      await page.getByRole('heading', { name: 'Please sign in again', level: 1 }).waitFor();
      expect(await page.getByRole('alert').textContent()).toBe('Your sign-in has ended.');
      await context.close();
    } finally {
      await untrusted.close();
      await stranger.close();
    }
  });

  it('when a page has a button without a name, then the accessibility check reports it', async () => {
    const { context, page } = await browser.newPage();
    await page.setContent('<!doctype html><html lang="en"><head><title>t</title></head><body><main><button></button></main></body></html>');
    expect((await seriousAccessibilityViolations(page)).map((v) => v.id)).toContain('button-name');
    await context.close();
  });

});
