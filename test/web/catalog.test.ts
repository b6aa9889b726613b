import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodePng, type Rgb } from '../../scripts/png.js';
import { seedSampleImages } from '../../scripts/sampleImages.js';
import type { Storefront } from '../../scripts/storefront.js';
import { projectRoot } from '../support/hostProcess.js';
import { postgresUrl } from '../support/pipeline.js';
import { uniqueUser, type Shop } from '../support/shop.js';
import { screenshotDir, screenshots, seriousAccessibilityViolations, signIn, startBrowserShop, type BrowserShop, type TestBrowser } from './browser.js';

/*
 * The catalog as a shopper finds things in it, against an API with CATALOG_PUBLIC_READ=true: search,
 * categories, sort and price filter, pictures, stock, the stock limit said at the product, and
 * browsing signed out until "Add to cart". STOREFRONT_SCREENSHOTS=docs/images saves its screenshots.
 */


describe('storefront catalog features in headless Chromium', () => {
  let running: BrowserShop;
  let shop: Shop;
  let storefront: Storefront;
  let browser: TestBrowser;
  let adminToken: string;
  // A word of this run, so searches and assertions see this run's products among earlier runs' ones.
  const run = uniqueUser('r').slice(2).replace(/[^a-z0-9]/g, '');
  const tea = { slug: 'tea', name: 'Tea' };
  const products: Record<'stoneware' | 'glass' | 'kettle' | 'cups' | 'scarce', { id: string; name: string; price: number }> = {} as never;

  const api = async (path: string, init: { method?: string; body?: unknown; bytes?: Buffer; contentType?: string } = {}) => {
    const response = await fetch(`${shop.api}${path}`, {
      method: init.method ?? 'GET',
      headers: { authorization: `Bearer ${adminToken}`, ...(init.body !== undefined ? { 'content-type': 'application/json' } : {}), ...(init.contentType ? { 'content-type': init.contentType } : {}) },
      body: init.bytes ?? (init.body === undefined ? undefined : JSON.stringify(init.body)),
    });
    return response;
  };
  const created = async (response: Response) => {
    if (response.status !== 201) throw new Error(`expected 201, got ${response.status}: ${await response.text()}`);
    return (await response.json()) as { id: string };
  };

  /** A picture drawn in code: a soft gradient in the product's colour with a darker disc (a pot seen from above). */
  const picture = (base: Rgb) =>
    encodePng(240, 240, (x, y) => {
      const inDisc = (x - 120) ** 2 + (y - 130) ** 2 < 70 ** 2;
      const shade = 0.75 + (0.25 * y) / 240;
      return inDisc ? [base[0] * 0.55, base[1] * 0.55, base[2] * 0.55] : [base[0] * shade, base[1] * shade, base[2] * shade];
    });

  beforeAll(async () => {
    running = await startBrowserShop({ env: { CATALOG_PUBLIC_READ: 'true' } });
    ({ shop, storefront, browser } = running);
    adminToken = await shop.token({ user: 'catalog-admin', roles: ['Products.Write'] });
    // The category may be left from an earlier run (409): it is the same one.
    const category = await api('/categories', { method: 'POST', body: tea });
    expect([201, 409]).toContain(category.status);
    const make = async (name: string, price: number, stock: number, description: string) => ({
      id: (await created(await api('/products', { method: 'POST', body: { name, price, stock, description, category: tea.slug } }))).id,
      name,
      price,
    });
    products.stoneware = await make(`Stoneware teapot ${run}`, 34.5, 40, `A round teapot in glazed stoneware that keeps tea hot. Batch ${run}.`);
    products.glass = await make(`Glass teapot ${run}`, 24, 25, `A clear glass teapot with a steel infuser, to watch the leaves open. Batch ${run}.`);
    products.kettle = await make(`Gooseneck kettle ${run}`, 59, 12, `A kettle with a thin spout for pouring over tea or coffee. Batch ${run}.`);
    products.cups = await make(`Tea cups, set of two ${run}`, 16, 3, `Two small cups for green tea. Batch ${run}.`);
    products.scarce = await make(`Matcha whisk ${run}`, 12, 5, `A bamboo whisk. Batch ${run}.`);
    const colours: Rgb[] = [
      [196, 112, 64],
      [72, 128, 168],
    ];
    for (const [n, colour] of colours.entries()) {
      const alt = n === 0 ? 'Stoneware teapot in rust glaze, seen from above' : 'The same teapot in blue glaze';
      expect((await api(`/products/${products.stoneware.id}/images?alt=${encodeURIComponent(alt)}`, { method: 'POST', bytes: picture(colour), contentType: 'image/png' })).status).toBe(201);
    }
    expect((await api(`/products/${products.glass.id}/images?alt=${encodeURIComponent('Glass teapot with amber tea')}`, { method: 'POST', bytes: picture([214, 168, 84]), contentType: 'image/png' })).status).toBe(201);
  });

  afterAll(() => running?.stop());

  const expectAccessible = async (page: Page) => expect(await seriousAccessibilityViolations(page)).toEqual([]);
  const settled = (page: Page) => page.locator('main[aria-busy]').waitFor({ state: 'detached' });
  const cardNames = (page: Page) => page.getByRole('list', { name: 'Products' }).getByRole('heading').allTextContents();
  const cardPrices = async (page: Page) => (await page.locator('li.card .price').allTextContents()).map((text) => Number(text.replace(/[$,]/g, '')));

  it('when a signed-out visitor searches, then the results show without signing in, best match first', async () => {
    const { context, page } = await browser.newPage();
    await page.goto(`${storefront.url}/`);
    await page.getByRole('heading', { name: 'Catalog', level: 1 }).waitFor();
    expect(await page.getByRole('button', { name: 'Sign in' }).count()).toBe(1); // in the header only: no welcome wall
    await page.getByRole('searchbox', { name: 'Search products' }).fill(`teapot ${run}`);
    await page.getByRole('searchbox', { name: 'Search products' }).press('Enter');
    await page.getByRole('heading', { name: `Results for “teapot ${run}”`, level: 1 }).waitFor();
    await settled(page);
    const names = await cardNames(page);
    expect(names).toHaveLength(2);
    expect(names).toEqual(expect.arrayContaining([products.stoneware.name, products.glass.name]));
    expect(await page.getByRole('combobox', { name: 'Sort by' }).inputValue()).toBe('relevance');
    await expectAccessible(page);

    await page.getByRole('searchbox', { name: 'Search products' }).fill(`samovar ${run}`);
    await page.getByRole('button', { name: 'Search', exact: true }).click();
    await page.getByRole('heading', { name: `Results for “samovar ${run}”` }).waitFor();
    await expect.poll(() => page.locator('main').textContent()).toContain('No products match');

    await context.close();
  });

  it('when a shopper opens a category, sorts it by price and filters a price range, then only matching products show in that order', async () => {
    const { context, page } = await browser.newPage();
    await page.goto(`${storefront.url}/`);
    const categories = page.getByRole('navigation', { name: 'Categories' });
    await categories.getByRole('link', { name: /^Tea \(\d+\)$/ }).click();
    await page.getByRole('heading', { name: 'Tea', level: 1 }).waitFor();
    await settled(page);
    expect(page.url()).toBe(`${storefront.url}/categories/tea`);
    expect(await categories.getByRole('link', { name: /^Tea/ }).getAttribute('aria-current')).toBe('page');
    await expectAccessible(page);

    await page.getByRole('combobox', { name: 'Sort by' }).selectOption('-price');
    await page.getByLabel('Lowest price (USD)').fill('15');
    await page.getByLabel('Highest price (USD)').fill('40');
    await page.getByRole('button', { name: 'Apply' }).click();
    await page.waitForURL(/sort=-price/);
    await settled(page);
    // Every page of the result (earlier runs' products are in the category too), in order.
    const prices: number[] = [];
    const names: string[] = [];
    for (;;) {
      prices.push(...(await cardPrices(page)));
      names.push(...(await cardNames(page)));
      const next = page.getByRole('link', { name: 'Next page' });
      if ((await next.count()) === 0) break;
      const before = page.url();
      await next.click();
      await page.waitForURL((url) => url.toString() !== before);
      await settled(page);
    }
    expect(prices.length).toBeGreaterThan(0);
    expect(prices.every((price) => price >= 15 && price <= 40)).toBe(true);
    expect(prices).toEqual([...prices].sort((a, b) => b - a));
    expect(names).toEqual(expect.arrayContaining([products.stoneware.name, products.glass.name, products.cups.name]));
    expect(names).not.toContain(products.kettle.name); // 59: above the range
    expect(names).not.toContain(products.scarce.name); // 12: below it

    // A range the wrong way round is caught in the form, before any request.
    await page.getByLabel('Lowest price (USD)').fill('50');
    await page.getByLabel('Highest price (USD)').fill('10');
    await page.getByRole('button', { name: 'Apply' }).click();
    expect(await page.getByLabel('Highest price (USD)').evaluate((input: { validity: { valid: boolean } }) => input.validity.valid)).toBe(false);
    expect(page.url()).toContain('minPrice=15'); // still the last page of the applied filter
    await context.close();
  });

  it('when a product has pictures, then its page shows them with their alt text; one without shows a placeholder, as does a picture that fails to load', async () => {
    const { context, page } = await browser.newPage();
    await page.goto(`${storefront.url}/products/${products.stoneware.id}`);
    await page.getByRole('heading', { name: products.stoneware.name, level: 1 }).waitFor();
    const main = page.getByRole('img', { name: 'Stoneware teapot in rust glaze, seen from above' });
    await main.waitFor();
    await expect.poll(() => main.evaluate((img: { complete: boolean; naturalWidth: number }) => img.complete && img.naturalWidth)).toBe(240);
    await page.getByRole('button', { name: 'Show picture 2 of 2: The same teapot in blue glaze' }).click();
    await page.getByRole('img', { name: 'The same teapot in blue glaze' }).waitFor();
    expect(await page.getByRole('button', { name: /^Show picture 2/ }).getAttribute('aria-pressed')).toBe('true');
    expect(await page.getByText('40 in stock').count()).toBe(1);
    await expectAccessible(page);

    await page.goto(`${storefront.url}/products/${products.kettle.id}`);
    await page.getByRole('img', { name: `No picture of ${products.kettle.name} yet` }).waitFor();

    // The picture's store does not answer: the placeholder takes its place, not a broken image.
    await page.route((url) => url.pathname.endsWith('.png') && !url.pathname.startsWith('/assets/'), (route) => route.abort());
    await page.goto(`${storefront.url}/products/${products.glass.id}`);
    await page.getByRole('img', { name: 'Glass teapot with amber tea' }).waitFor();
    await expect.poll(() => page.locator('.gallery .placeholder').count()).toBe(1);
    await context.close();
  });

  it('when a signed-out visitor chooses "Add to cart", then they sign in and come back with the product added', async () => {
    const user = uniqueUser('visitor');
    const { context, page } = await browser.newPage();
    await page.goto(`${storefront.url}/products/${products.glass.id}`);
    await page.getByLabel('Quantity').fill('2');
    await page.getByRole('button', { name: 'Add to cart' }).click();
    await page.getByRole('heading', { name: 'Sign in to the dev tenant' }).waitFor();
    await page.getByLabel('User name').fill(user);
    await page.getByRole('button', { name: 'Sign in as this user' }).click();
    await page.waitForURL(`${storefront.url}/products/${products.glass.id}`);
    await expect.poll(() => page.locator('.notice-ok').textContent()).toContain(`Added 2 × ${products.glass.name}`);
    const cart = (await (await shop.call('/cart', { token: await shop.token({ user }) })).json()) as { items: { productId: string; quantity: number }[] };
    expect(cart.items).toEqual([expect.objectContaining({ productId: products.glass.id, quantity: 2 })]);
    await context.close();
  });

  it('when a shopper asks for more than is in stock, then the product page says how many are left, at the product, and the cart is unchanged', async () => {
    const user = uniqueUser('stock');
    const { context, page } = await browser.newPage();
    await signIn(page, `${storefront.url}/products/${products.scarce.id}`, { name: user });
    await page.getByRole('heading', { name: products.scarce.name, level: 1 }).waitFor();
    expect(await page.getByText('Only 5 left').count()).toBe(1);
    await page.getByLabel('Quantity').fill('2');
    await page.getByRole('button', { name: 'Add to cart' }).click();
    await expect.poll(() => page.locator('#add-status').textContent()).toBe('You have 2 in your cart.');

    // Someone else buys most of it while the page is open: the page still offers 5.
    const { name, price, description, category } = (await (await api(`/products/${products.scarce.id}`)).json()) as Record<string, unknown>;
    expect((await api(`/products/${products.scarce.id}`, { method: 'PUT', body: { name, price, description, category, stock: 3 } })).status).toBe(200);
    await page.getByLabel('Quantity').fill('2');
    await page.getByRole('button', { name: 'Add to cart' }).click();
    const status = page.locator('#add-status');
    await expect.poll(() => status.textContent()).toContain('Not enough in stock');
    expect(await status.textContent()).toContain('Only 3 in stock and you have 2 in your cart: you can add up to 1 more.');
    expect(await page.getByText('Only 3 left').count()).toBe(1);
    expect(await page.getByRole('alert').count()).toBe(0); // said at the product, not in the page's alert area
    expect(await page.getByLabel('Quantity').inputValue()).toBe('1');
    await expectAccessible(page);
    const cart = (await (await shop.call('/cart', { token: await shop.token({ user }) })).json()) as { items: { quantity: number }[] };
    expect(cart.items.map((line) => line.quantity)).toEqual([2]);

    // Raising the line in the cart beyond the stock is said at that line.
    await page.goto(`${storefront.url}/cart`);
    await page.getByLabel(`Quantity of ${products.scarce.name}`).fill('4');
    await page.getByLabel(`Quantity of ${products.scarce.name}`).press('Tab');
    await expect.poll(() => page.locator('.cart-line-status').textContent()).toContain('Only 3 units can be in your cart right now.');
    expect(await page.getByLabel(`Quantity of ${products.scarce.name}`).inputValue()).toBe('2'); // what the cart holds
    await context.close();
  });

  it('when an admin puts a product in a category, then that category page lists it', async () => {
    const name = `Bamboo tea tray ${run}`;
    const id = (await created(await api('/products', { method: 'POST', body: { name, price: 21, stock: 9 } }))).id;
    const { context, page } = await browser.newPage();
    await signIn(page, `${storefront.url}/admin/products/${id}`, { preset: 'admin' });
    await page.getByLabel('Category').selectOption(tea.slug);
    await page.getByRole('button', { name: 'Save changes' }).click();
    await page.getByRole('heading', { name, level: 1 }).waitFor();
    await page.goto(`${storefront.url}/categories/${tea.slug}?${new URLSearchParams({ sort: 'newest' })}`);
    await page.getByRole('heading', { name: 'Tea', level: 1 }).waitFor();
    await settled(page);
    expect(await cardNames(page)).toContain(name);
    await context.close();
  });

  it('when an admin uploads a picture with its description, then the product shows it; a file that is not a picture is refused in plain words', async () => {
    const name = `Cast iron teapot ${run}`;
    const id = (await created(await api('/products', { method: 'POST', body: { name, price: 45, stock: 4, category: tea.slug } }))).id;
    const { context, page } = await browser.newPage();
    await signIn(page, `${storefront.url}/admin/products/${id}`, { preset: 'admin' });
    await page.getByRole('heading', { name: 'Pictures' }).waitFor();
    await expectAccessible(page);

    // Named .png and sent as image/png, but not one: the API checks the content.
    await page.getByLabel('Picture', { exact: true }).setInputFiles({ name: 'teapot.png', mimeType: 'image/png', buffer: Buffer.from('not a picture at all') });
    await page.getByLabel('Description for screen readers').fill('A teapot');
    await page.getByRole('button', { name: 'Upload picture' }).click();
    await expect.poll(() => page.getByRole('alert').textContent()).toContain('That file is not a picture we can show');
    expect(await page.getByRole('alert').getAttribute('data-code')).toBe('unsupported_media_type');

    await page.getByLabel('Picture', { exact: true }).setInputFiles({ name: 'teapot.png', mimeType: 'image/png', buffer: picture([40, 40, 48]) });
    await page.getByLabel('Description for screen readers').fill('Black cast iron teapot');
    await page.getByRole('button', { name: 'Upload picture' }).click();
    await expect.poll(() => page.locator('.notice-ok').textContent()).toContain('Picture added.');
    await page.getByRole('img', { name: 'Black cast iron teapot' }).waitFor();

    await page.goto(`${storefront.url}/products/${id}`);
    await page.getByRole('img', { name: 'Black cast iron teapot' }).waitFor();
    await page.goto(`${storefront.url}/admin/products/${id}`);
    await page.getByRole('button', { name: 'Remove picture 1' }).click();
    await expect.poll(() => page.locator('.notice-ok').textContent()).toContain('Picture removed.');
    await expect.poll(() => page.getByRole('region', { name: 'Pictures' }).textContent()).toContain('No pictures yet.');
    await context.close();
  });

  // The screenshots show the sample catalog (seed/catalog.sql and its drawn pictures), as `npm run dev` serves it.
  it.runIf(screenshotDir)('when the sample catalog is loaded, then its search results, a category and a product are photographed', async () => {
    const db = new pg.Client({ connectionString: postgresUrl });
    await db.connect();
    try {
      await db.query(readFileSync(join(projectRoot, 'seed/catalog.sql'), 'utf8'));
    } finally {
      await db.end();
    }
    await seedSampleImages({ postgresUrl, storage: 'UseDevelopmentStorage=true', container: 'product-images' });
    const { context, page } = await browser.newPage();
    await page.goto(`${storefront.url}/search?q=espresso`);
    await page.getByRole('heading', { name: 'Results for “espresso”', level: 1 }).waitFor();
    await settled(page);
    await screenshots(page, 'search');
    await page.goto(`${storefront.url}/categories/coffee`);
    await page.getByRole('heading', { name: 'Coffee', level: 1 }).waitFor();
    await settled(page);
    await screenshots(page, 'category');
    await page.goto(`${storefront.url}/products/01935e00-0000-7000-8000-000000000001`);
    await page.getByRole('button', { name: /^Show picture 2 of 2/ }).waitFor();
    await screenshots(page, 'product');
    await context.close();
  });

});
