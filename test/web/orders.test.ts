import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Storefront } from '../../scripts/storefront.js';
import { createProduct } from '../support/pipeline.js';
import { uniqueUser, type Shop } from '../support/shop.js';
import { checkOutFromCart, fillAddress, sampleAddress, screenshotDir, screenshots, seriousAccessibilityViolations, signIn, startBrowserShop, type BrowserShop, type TestBrowser } from './browser.js';

/*
 * After "Place order": the address step, the order page with the address, and cancelling a paid order
 * (confirmed in a dialog) until it shows cancelled and refunded. STOREFRONT_SCREENSHOTS=docs/images
 * saves the checkout and cancelled-order screenshots.
 */


describe('storefront orders in headless Chromium', () => {
  let running: BrowserShop;
  let shop: Shop;
  let storefront: Storefront;
  let browser: TestBrowser;
  let productId: string;
  const productName = `Linen apron ${uniqueUser('a')}`;

  beforeAll(async () => {
    running = await startBrowserShop();
    ({ shop, storefront, browser } = running);
    productId = await createProduct(shop, { name: productName, price: 28, stock: 1000 });
  });

  afterAll(() => running?.stop());

  const expectAccessible = async (page: Page) => expect(await seriousAccessibilityViolations(page)).toEqual([]);

  async function inCart(user: string, quantity = 1) {
    const { context, page } = await browser.newPage();
    await signIn(page, `${storefront.url}/products/${productId}`, { name: user });
    await page.getByLabel('Quantity').fill(String(quantity));
    await page.getByRole('button', { name: 'Add to cart' }).click();
    await page.getByRole('link', { name: 'View cart' }).click();
    await page.getByRole('heading', { name: 'Your cart' }).waitFor();
    return { context, page };
  }

  it('when the address is incomplete or malformed, then the form says so and nothing is ordered', async () => {
    const user = uniqueUser('address');
    const { context, page } = await inCart(user);
    await page.getByRole('link', { name: 'Check out' }).click();
    await fillAddress(page);
    await page.getByLabel('City').fill('   ');
    await page.getByLabel('Postal code').fill('<10115>');
    await page.getByRole('button', { name: 'Place order' }).click();
    expect(await page.getByLabel('City').evaluate((input: { validity: { valid: boolean } }) => input.validity.valid)).toBe(false);
    expect(await page.getByLabel('Postal code').evaluate((input: { validity: { valid: boolean } }) => input.validity.valid)).toBe(false);
    expect(page.url()).toBe(`${storefront.url}/checkout`);
    const orders = (await (await shop.call('/orders', { token: await shop.token({ user }) })).json()) as { items: unknown[] };
    expect(orders.items).toEqual([]);
    await context.close();
  });

  it('when a person cancels a paid order after confirming, then it shows cancelled and refunded; "Keep the order" changes nothing', async () => {
    const user = uniqueUser('cancel');
    const { context, page } = await inCart(user, 2);
    await page.getByRole('link', { name: 'Check out' }).click();
    await fillAddress(page);
    if (screenshotDir) await screenshots(page, 'checkout');
    await page.getByRole('button', { name: 'Place order' }).click();
    await page.waitForURL(/\/orders\/[0-9a-f-]+/);
    await expect.poll(() => page.getByRole('status').textContent(), { timeout: 30_000 }).toContain('Paid');
    expect(await page.getByRole('region', { name: 'Shipping to' }).textContent()).toContain(sampleAddress.line1);

    await page.getByRole('button', { name: 'Cancel order' }).click();
    const dialog = page.getByRole('dialog', { name: /^Cancel order / });
    await dialog.waitFor();
    expect(await dialog.textContent()).toContain('Your payment of $56.00 will be refunded.');
    await expectAccessible(page);
    await dialog.getByRole('button', { name: 'Keep the order' }).click();
    await dialog.waitFor({ state: 'hidden' });
    expect(await page.getByRole('status').textContent()).toContain('Paid');

    await page.getByRole('button', { name: 'Cancel order' }).click();
    await dialog.getByRole('button', { name: 'Yes, cancel the order' }).click();
    await expect.poll(() => page.getByRole('status').textContent(), { timeout: 30_000 }).toContain('Your payment of $56.00 was refunded.');
    expect(await page.locator('.notice-ok').textContent()).toMatch(/^Order \w+ is cancelled\.$/);
    expect(await page.getByRole('status').textContent()).toContain('Cancelled');
    expect(await page.getByRole('status').textContent()).toContain('Refunded');
    expect(await page.getByTestId('payment').textContent()).toMatch(/^Refunded \$56\.00 on /);
    expect(await page.getByRole('button', { name: 'Cancel order' }).count()).toBe(0);
    await expectAccessible(page);
    if (screenshotDir) await screenshots(page, 'order-cancelled');

    const orderId = new URL(page.url()).pathname.split('/').pop()!;
    const order = (await (await shop.call(`/orders/${orderId}`, { token: await shop.token({ user }) })).json()) as { status: string; payment: { status: string } };
    expect(order).toMatchObject({ status: 'CANCELLED', payment: { status: 'REFUNDED' } });
    await context.close();
  });

  it('when an order cannot be cancelled (its payment failed), then no cancel button is offered', async () => {
    const pricey = await createProduct(shop, { name: `Storefront gold apron ${uniqueUser('g')}`, price: 12_000, stock: 5 });
    const { context, page } = await browser.newPage();
    await signIn(page, `${storefront.url}/products/${pricey}`, { name: uniqueUser('declined') });
    await page.getByRole('button', { name: 'Add to cart' }).click();
    await page.getByRole('link', { name: 'View cart' }).click();
    await checkOutFromCart(page);
    await expect.poll(() => page.getByRole('status').textContent(), { timeout: 30_000 }).toContain('Payment failed');
    expect(await page.getByRole('button', { name: 'Cancel order' }).count()).toBe(0);
    await context.close();
  });

});
