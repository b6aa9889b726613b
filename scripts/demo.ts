/*
 * npm run demo: walks the shop's workflow against a running instance (npm run dev) and prints each
 * step: health, sign-in, product, cart, checkout, order, payment. Tokens come from the local
 * development issuer: an admin app via MSAL client credentials, a shopper as a delegated user.
 * The demo's product is deleted at the end (its order keeps its own copy of name and price), so the
 * storefront's catalog does not collect a "Demo grinder" per run.
 */
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { createShopClient, devIssuerTokenProvider, ShopApiError, type Order } from '../src/client/index.js';
import { createDevTokenMinter, devIssuerUrls, loadOrCreateDevIssuerState } from '../src/dev-issuer/index.js';
import { devIssuerPorts } from './devIssuerFromSettings.js';
import { loadLocalSettings, projectRoot } from './localSettings.js';

// The dev issuer where the settings put it (npm run dev starts it there), and the API on PORT.
loadLocalSettings();
const { httpsPort } = devIssuerPorts();
const { values } = parseArgs({ options: { api: { type: 'string', default: `http://localhost:${process.env.PORT ?? 7071}/api` } } });
const api = values.api!.replace(/\/$/, '');
const step = (n: number, title: string, detail: unknown) =>
  console.log(`\n${n}. ${title}\n${typeof detail === 'string' ? detail : JSON.stringify(detail, null, 2)}`);

const health = await fetch(`${api}/health`).catch((error: Error) => {
  console.error(`Cannot reach ${api} (${error.message}). Start the shop first: npm run dev`);
  process.exit(1);
});
step(1, `Health (${api}/health)`, await health.json());

const dir = join(projectRoot, '.local/dev-issuer');
const admin = createShopClient({ apiBaseUrl: api, getToken: devIssuerTokenProvider({ dir, httpsPort }) });
const shopperName = `demo-${randomUUID().slice(0, 8)}`;
const minter = createDevTokenMinter(await loadOrCreateDevIssuerState(dir), devIssuerUrls({ httpsPort }).issuer);
const shopperToken = await minter.mintUserToken({ user: shopperName });
const shopper = createShopClient({ apiBaseUrl: api, getToken: async () => shopperToken });
step(2, 'Sign-in', `admin app: client credentials through MSAL against the dev issuer\nshopper: ${shopperName} (delegated token, scope access_as_user)`);

const adminHeaders = { authorization: `Bearer ${await devIssuerTokenProvider({ dir, httpsPort })()}`, 'content-type': 'application/json' };
const created = await fetch(`${api}/products`, {
  method: 'POST',
  headers: adminHeaders,
  body: JSON.stringify({ name: 'Demo grinder', description: 'Created by npm run demo', price: 89.9, stock: 25 }),
});
const product = (await created.json()) as { id: string; name: string; price: number; stock: number };
step(3, `Product created by the admin (${created.status}, Location ${created.headers.get('location')})`, product);
const removeDemoProduct = async () => {
  const deleted = await fetch(`${api}/products/${product.id}`, { method: 'DELETE', headers: adminHeaders });
  return deleted.status;
};

const page = await admin.listProducts({ limit: 3 });
step(4, 'Catalog, first page', page.items.map((p) => `${p.name}: ${p.price} (stock ${p.stock})`).join('\n'));

step(5, 'Shopper adds 2 to the cart', await shopper.addToCart(product.id, 2));

const started = Date.now();
const checkout = await shopper.checkout({ idempotencyKey: randomUUID() });
step(6, 'Checkout accepted (CartCheckedOut published with confirms)', checkout);

// The order is written by the orders function a moment later: until then GET answers 404.
const currentOrder = () => shopper.getOrder(checkout.orderId).catch((error: unknown) => (error instanceof ShopApiError && error.status === 404 ? undefined : Promise.reject(error)));
let order: Order | undefined = await currentOrder();
while ((order === undefined || order.status === 'PENDING') && Date.now() - started < 30_000) {
  await new Promise((resolve) => setTimeout(resolve, 50));
  order = await currentOrder();
}
if (!order) {
  console.error(`Order ${checkout.orderId} did not appear within 30 s: are the RabbitMQ-triggered functions running?`);
  await removeDemoProduct();
  process.exit(1);
}
step(7, `Order ${order.status} ${Date.now() - started} ms after checkout (orders -> OrderCreated -> payments -> PaymentSucceeded -> orders)`, order);
step(8, 'Payment', order.payment ?? 'none');
step(9, 'Cart after checkout', await shopper.getCart());
step(10, 'Demo product removed from the catalog (the order keeps its own copy of name and price)', `DELETE /products/${product.id}: ${await removeDemoProduct()}`);
process.exit(order.status === 'PAID' ? 0 : 1);
