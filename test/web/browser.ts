import { existsSync, mkdirSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { devIssuerConfig, startStorefront, type Storefront } from '../../scripts/storefront.js';
import { projectRoot } from '../support/hostProcess.js';
import { startShop, type Shop } from '../support/shop.js';

/** Debian's chromium package; the tests never download a browser. */
export const chromiumPath = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

export interface TestBrowser {
  browser: Browser;
  /** A fresh context: its own sessionStorage and cookies, like a new person at another computer. */
  newPage(viewport?: { width: number; height: number }): Promise<{ context: BrowserContext; page: Page }>;
  close(): Promise<void>;
}

/**
 * Launches headless Chromium with the flags this machine needs as root and without network: no
 * sandbox (root), no GPU, and no background or component traffic that a closed network refuses.
 * Playwright gives every launch a fresh --user-data-dir of its own (it refuses one in `args`).
 */
export async function launchBrowser(): Promise<TestBrowser> {
  if (!existsSync(chromiumPath)) throw new Error(`No Chromium at ${chromiumPath}: apt-get install chromium (or set CHROMIUM_PATH)`);
  const browser = await chromium.launch({
    executablePath: chromiumPath,
    headless: true,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
  return {
    browser,
    async newPage(viewport = { width: 1280, height: 800 }) {
      // bypassCSP lets the accessibility checker be injected into pages whose CSP allows only their own scripts.
      const context = await browser.newContext({ viewport, bypassCSP: true });
      return { context, page: await context.newPage() };
    },
    close: () => browser.close(),
  };
}

let axeSource: string | undefined;

export interface AxeViolation {
  id: string;
  impact: string | null;
  help: string;
  nodes: { target: string[] }[];
}

/** Runs axe-core (WCAG 2 A and AA rules) on the page; returns the serious and critical violations. */
export async function seriousAccessibilityViolations(page: Page): Promise<AxeViolation[]> {
  axeSource ??= await readFile(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');
  await page.addScriptTag({ content: axeSource });
  const violations = await page.evaluate(async () => {
    // Runs in the page (the whole document); typed here without the DOM library.
    const axe = (globalThis as unknown as { axe: { run(options: unknown): Promise<{ violations: AxeViolation[] }> } }).axe;
    const result = await axe.run({ runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] } });
    return result.violations.map(({ id, impact, help, nodes }) => ({ id, impact, help, nodes: nodes.map((n) => ({ target: n.target })) }));
  });
  return violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
}

/** A dev user from the issuer's list, or any name typed into its form. */
export type DevUserChoice = { preset: 'alice' | 'bob' | 'admin' } | { name: string };

/** Opens `url`, chooses "Sign in" and picks `user` on the dev issuer's page; resolves once signed in. */
export async function signIn(page: Page, url: string, user: DevUserChoice): Promise<void> {
  await page.goto(url);
  await page.getByRole('button', { name: 'Sign in' }).first().click(); // the page's, or the header's on a public catalog
  await page.getByRole('heading', { name: 'Sign in to the dev tenant' }).waitFor();
  if ('preset' in user) await page.getByRole('button', { name: new RegExp(`^Sign in as ${user.preset}\\b`) }).click();
  else {
    await page.getByLabel('User name').fill(user.name);
    await page.getByRole('button', { name: 'Sign in as this user' }).click();
  }
  await page.getByRole('button', { name: 'Sign out' }).waitFor();
}

export const sampleAddress = { name: 'Alice Example', line1: 'Hauptstraße 5', city: 'Berlin', postalCode: '10115', country: 'DE', countryName: 'Germany' };

/** From the cart page: "Check out", fills in the shipping address and places the order; resolves on the order's page. */
export async function checkOutFromCart(page: Page, options: { placeClick?: 'click' | 'dblclick' } = {}): Promise<string> {
  await page.getByRole('link', { name: 'Check out' }).click();
  await fillAddress(page);
  await page.getByRole('button', { name: 'Place order' })[options.placeClick ?? 'click']();
  await page.waitForURL(/\/orders\/[0-9a-f-]+/);
  return new URL(page.url()).pathname.split('/').pop()!;
}

export async function fillAddress(page: Page, address = sampleAddress): Promise<void> {
  await page.getByRole('heading', { name: 'Checkout', level: 1 }).waitFor();
  await page.getByLabel('Full name').fill(address.name);
  await page.getByLabel('Address', { exact: true }).fill(address.line1);
  await page.getByLabel('Postal code').fill(address.postalCode);
  await page.getByLabel('City').fill(address.city);
  await page.getByLabel('Country').selectOption(address.country);
}

export const desktop = { width: 1280, height: 800 };
export const phone = { width: 390, height: 844 };
/** Where `npm run test:web` writes the README's screenshots when set; none are taken otherwise. */
export const screenshotDir = process.env.STOREFRONT_SCREENSHOTS;

/** Saves the page as the README shows it, at desktop and phone widths, into `screenshotDir`. */
export async function screenshots(page: Page, name: string): Promise<void> {
  mkdirSync(screenshotDir!, { recursive: true });
  await page.screenshot({ path: join(screenshotDir!, `${name}-desktop.png`), fullPage: false });
  await page.setViewportSize(phone);
  await page.screenshot({ path: join(screenshotDir!, `${name}-phone.png`), fullPage: true });
  await page.setViewportSize(desktop);
}

export interface BrowserShop {
  shop: Shop;
  storefront: Storefront;
  browser: TestBrowser;
  stop(): Promise<void>;
}

/** The shop under the local host, the storefront served same-origin in front of it, and a browser. */
export async function startBrowserShop(shopOptions?: Parameters<typeof startShop>[0]): Promise<BrowserShop> {
  const shop = await startShop(shopOptions);
  const storefront = await startStorefront({
    distDir: join(projectRoot, 'web/dist'),
    apiOrigin: shop.host.baseUrl,
    config: devIssuerConfig({ httpsPort: shop.issuer.httpsPort, httpPort: shop.issuer.httpPort }),
    port: 0,
  });
  const browser = await launchBrowser();
  return {
    shop,
    storefront,
    browser,
    async stop() {
      await browser.close();
      await storefront.close();
      await shop.stop();
    },
  };
}
