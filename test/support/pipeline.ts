import pg from 'pg';
import type { Shop } from './shop.js';

export const postgresUrl = process.env.POSTGRES_URL ?? 'postgres://postgres:postgres@127.0.0.1:5432/ecommerce';

export interface OrderBody {
  id: string;
  status: 'PENDING' | 'PAID' | 'PAYMENT_FAILED' | 'REJECTED' | 'CANCELLED';
  reason?: string;
  items: { productId: string; name: string; unitPrice: number; quantity: number }[];
  total: number;
  payment?: { id: string; status: string; amount: number; reason?: string };
}

/** Creates a product through the API (as an admin) and returns its id. */
export async function createProduct(shop: Shop, product: { name?: string; price: number; stock: number }): Promise<string> {
  const token = await shop.token({ user: 'catalog-admin', roles: ['Products.Write'] });
  const response = await shop.call('/products', { method: 'POST', token, body: { name: product.name ?? `Test product ${Date.now()}`, price: product.price, stock: product.stock } });
  if (response.status !== 201) throw new Error(`creating a product failed: ${response.status} ${await response.text()}`);
  return ((await response.json()) as { id: string }).id;
}

export async function addToCart(shop: Shop, token: string, productId: string, quantity = 1): Promise<void> {
  const response = await shop.call('/cart/items', { method: 'POST', token, body: { productId, quantity } });
  if (response.status !== 200) throw new Error(`adding to the cart failed: ${response.status} ${await response.text()}`);
}

/** Polls GET /orders/{id} until the order is in a final status (or the time is up). */
export async function waitForFinalOrder(shop: Shop, token: string, orderId: string, timeoutMs = 30_000): Promise<OrderBody> {
  const deadline = Date.now() + timeoutMs;
  let last: OrderBody | undefined;
  while (Date.now() < deadline) {
    const response = await shop.call(`/orders/${orderId}`, { token });
    if (response.status === 200) {
      last = (await response.json()) as OrderBody;
      if (last.status !== 'PENDING') return last;
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`order ${orderId} is not final after ${timeoutMs} ms (last: ${JSON.stringify(last)})`);
}

export async function productStock(db: pg.Pool, productId: string): Promise<number> {
  const { rows } = await db.query<{ stock: number }>('SELECT stock FROM products WHERE id = $1', [productId]);
  return rows[0]!.stock;
}
