import type { TokenProvider } from './tokens.js';

/** An `application/problem+json` error answered by the API, or a non-JSON failure. */
export class ShopApiError extends Error {
  override name = 'ShopApiError';
  constructor(
    readonly status: number,
    readonly problem: { type?: string; title?: string; status?: number; detail?: string; [member: string]: unknown },
  ) {
    super(`${status} ${problem.title ?? 'Error'}${problem.detail ? `: ${problem.detail}` : ''}`);
  }
}

export interface ShopClientOptions {
  /** e.g. `http://localhost:7071/api` */
  apiBaseUrl: string;
  getToken: TokenProvider;
  fetchImpl?: typeof fetch;
}

export interface Page<T> {
  items: T[];
  nextCursor: string | null;
}

// Shapes per the API contract; kept loose on purpose, the client prints what the API answers.
export type Product = { id: string; name: string; description?: string | null; price: number; stock: number } & Record<string, unknown>;
export type Cart = { items: { productId: string; name: string; unitPrice: number; quantity: number; lineTotal: number }[]; total: number };
export type Order = { id: string; status: string; total: number } & Record<string, unknown>;
export type CheckoutResult = { checkoutId: string; orderId: string; status: string };

export interface ShopClient {
  listProducts(options?: { limit?: number; cursor?: string }): Promise<Page<Product>>;
  addToCart(productId: string, quantity?: number): Promise<Cart>;
  getCart(): Promise<Cart>;
  checkout(options?: { idempotencyKey?: string }): Promise<CheckoutResult>;
  getOrder(orderId: string): Promise<Order>;
  listOrders(options?: { limit?: number; cursor?: string }): Promise<Page<Order>>;
}

/** A typed client of the shop API that sends a bearer token from `getToken` with every call. */
export function createShopClient(options: ShopClientOptions): ShopClient {
  const base = options.apiBaseUrl.replace(/\/+$/, '');
  const fetchImpl = options.fetchImpl ?? fetch;

  const call = async <T>(method: string, path: string, init: { body?: unknown; headers?: Record<string, string> } = {}): Promise<T> => {
    const headers: Record<string, string> = { accept: 'application/json', authorization: `Bearer ${await options.getToken()}`, ...init.headers };
    if (init.body !== undefined) headers['content-type'] = 'application/json';
    const response = await fetchImpl(`${base}${path}`, {
      method,
      headers,
      ...(init.body !== undefined ? { body: JSON.stringify(init.body) } : {}),
    });
    const text = await response.text();
    let body: unknown;
    try {
      body = text ? JSON.parse(text) : undefined;
    } catch {
      body = undefined;
    }
    if (!response.ok) {
      const problem = body && typeof body === 'object' ? (body as ShopApiError['problem']) : { title: response.statusText, detail: text.slice(0, 500) };
      throw new ShopApiError(response.status, problem);
    }
    return body as T;
  };

  const query = (params: Record<string, string | number | undefined>) => {
    const search = new URLSearchParams();
    for (const [name, value] of Object.entries(params)) if (value !== undefined) search.set(name, String(value));
    const text = search.toString();
    return text ? `?${text}` : '';
  };
  const segment = encodeURIComponent;

  return {
    listProducts: (o = {}) => call('GET', `/products${query({ limit: o.limit, cursor: o.cursor })}`),
    addToCart: (productId, quantity = 1) => call('POST', '/cart/items', { body: { productId, quantity } }),
    getCart: () => call('GET', '/cart'),
    checkout: (o = {}) => call('POST', '/cart/checkout', o.idempotencyKey ? { headers: { 'idempotency-key': o.idempotencyKey } } : {}),
    getOrder: (orderId) => call('GET', `/orders/${segment(orderId)}`),
    listOrders: (o = {}) => call('GET', `/orders${query({ limit: o.limit, cursor: o.cursor })}`),
  };
}
