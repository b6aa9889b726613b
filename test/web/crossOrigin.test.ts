import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { devIssuerConfig, startStorefront, type Storefront } from '../../scripts/storefront.js';
import { projectRoot } from '../support/hostProcess.js';
import { createProduct } from '../support/pipeline.js';
import { startShop, uniqueUser, type Shop } from '../support/shop.js';
import { checkOutFromCart, launchBrowser, signIn, type TestBrowser } from './browser.js';

/**
 * In front of the host, CORS the way App Service's platform setting does it: a preflight from an
 * allowed origin is answered with what it asks for, other responses get Access-Control-Allow-Origin,
 * and nothing adds Access-Control-Expose-Headers (the API's own responses must).
 */
async function startCorsFront(apiOrigin: string, allowedOrigin: string): Promise<{ url: string; close(): Promise<void> }> {
  const server: Server = createServer((req, res) => {
    const allowed = req.headers.origin === allowedOrigin;
    if (req.method === 'OPTIONS' && req.headers['access-control-request-method']) {
      if (!allowed) return void res.writeHead(403).end();
      res.writeHead(204, {
        'access-control-allow-origin': allowedOrigin,
        'access-control-allow-methods': req.headers['access-control-request-method'],
        'access-control-allow-headers': req.headers['access-control-request-headers'] ?? '',
      });
      return void res.end();
    }
    const target = new URL(req.url ?? '/', apiOrigin);
    const upstream = request(target, { method: req.method, headers: { ...req.headers, host: target.host } }, (answer) => {
      res.writeHead(answer.statusCode ?? 502, { ...answer.headers, ...(allowed ? { 'access-control-allow-origin': allowedOrigin } : {}) });
      answer.pipe(res);
    });
    upstream.on('error', () => res.writeHead(502).end());
    req.pipe(upstream);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/*
 * The storefront as Azure deploys it: the API on another origin (config.json's apiBaseUrl is absolute),
 * reached through CORS that admits the storefront's origin only.
 */
describe('storefront calling the API cross-origin', () => {
  let shop: Shop;
  let storefront: Storefront;
  let front: { url: string; close(): Promise<void> };
  let browser: TestBrowser;
  const productName = `Cross-origin teapot ${uniqueUser('t')}`;
  let productId: string;

  beforeAll(async () => {
    shop = await startShop();
    const devConfig = devIssuerConfig({ httpsPort: shop.issuer.httpsPort, httpPort: shop.issuer.httpPort });
    let apiBaseUrl = '';
    storefront = await startStorefront({
      distDir: join(projectRoot, 'web/dist'),
      apiOrigin: 'http://127.0.0.1:9', // nothing listens: every API call must go to apiBaseUrl
      config: async () => ({ ...((await devConfig()) as object), apiBaseUrl }),
      port: 0,
    });
    front = await startCorsFront(shop.host.baseUrl, storefront.url);
    apiBaseUrl = `${front.url}/api`;
    browser = await launchBrowser();
    productId = await createProduct(shop, { name: productName, price: 4.5, stock: 100 });
  });

  afterAll(async () => {
    await browser?.close();
    await front?.close();
    await storefront?.close();
    await shop?.stop();
  });

  it('when a person checks out, then the order reaches PAID (Authorization and Idempotency-Key pass the preflight)', async () => {
    const { context, page } = await browser.newPage();
    await signIn(page, `${storefront.url}/products/${productId}`, { name: uniqueUser('cors') });
    await page.getByRole('button', { name: 'Add to cart' }).click();
    await page.getByRole('link', { name: 'View cart' }).click();
    await checkOutFromCart(page);
    await expect.poll(() => page.getByRole('status').textContent(), { timeout: 30_000 }).toContain('Paid');
    await context.close();
  });

  it('when an admin saves a stale form, then the API refuses it: the ETag was readable across origins', async () => {
    const { context, page } = await browser.newPage();
    await signIn(page, `${storefront.url}/admin/products/${productId}`, { preset: 'admin' });
    await page.getByLabel('Price (USD)', { exact: true }).waitFor();
    const admin = await shop.token({ user: 'other-admin', roles: ['Products.Write'] });
    expect((await shop.call(`/products/${productId}`, { method: 'PUT', token: admin, body: { name: productName, price: 5 } })).status).toBe(200);
    await page.getByLabel('Price (USD)', { exact: true }).fill('1.00');
    await page.getByRole('button', { name: 'Save changes' }).click();
    await expect.poll(() => page.getByRole('alert').getAttribute('data-code')).toBe('product_version_mismatch');
    await context.close();
  });
});
