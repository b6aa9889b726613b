/** What the API answers (see the README's API section, docs/contract and GET /api/openapi.json). */
export interface ProductImage {
  url: string;
  alt: string;
}

export interface Product {
  id: string;
  name: string;
  description: string;
  price: number;
  stock: number;
  /** The category's slug; absent from APIs older than the catalog features. */
  category?: string | null;
  images?: ProductImage[];
  createdAt: string;
  updatedAt: string;
  version: number;
}

export interface Category {
  slug: string;
  name: string;
  productCount: number;
}

export interface Page<T> {
  items: T[];
  nextCursor: string | null;
}

export type ProductSort = 'relevance' | 'newest' | 'price' | '-price' | 'name';

/** A catalog query: every part optional; the API's defaults apply to what is left out. */
export interface ProductQuery {
  q?: string;
  category?: string;
  sort?: ProductSort;
  minPrice?: number;
  maxPrice?: number;
  cursor?: string;
}

export interface CartLine {
  productId: string;
  name: string;
  unitPrice: number;
  quantity: number;
  lineTotal: number;
}

export interface Cart {
  items: CartLine[];
  total: number;
}

export interface ShippingAddress {
  name: string;
  line1: string;
  line2?: string;
  city: string;
  postalCode: string;
  /** ISO 3166-1 alpha-2, e.g. `DE`. */
  country: string;
}

export type OrderStatus = 'PENDING' | 'PAID' | 'PAYMENT_FAILED' | 'REJECTED' | 'CANCELLED';

export interface Order {
  id: string;
  status: OrderStatus;
  reason?: string;
  /** Why a CANCELLED order was cancelled: `customer` when its owner cancelled it. */
  cancelReason?: string;
  /** Its owner asked to cancel it while its payment was in flight: it is cancelled once the result is known. */
  cancelRequested?: boolean;
  items: { productId: string; name: string; unitPrice: number; quantity: number }[];
  total: number;
  shippingAddress?: ShippingAddress | null;
  createdAt: string;
  updatedAt: string;
  payment?: { id: string; status: 'PENDING' | 'SUCCEEDED' | 'FAILED' | 'REFUNDING' | 'REFUNDED'; amount: number; reason?: string; createdAt: string; refundedAt?: string };
}

export interface CheckoutAccepted {
  checkoutId: string;
  orderId: string;
  status: 'PENDING';
}

export interface ProductInput {
  name: string;
  description: string;
  price: number;
  stock: number;
  /** A category's slug, or null for none; left out, an edit keeps the product's category. */
  category?: string | null;
}

/** An error answer of the API (application/problem+json), or a request that never got one. */
export class ApiError extends Error {
  override name = 'ApiError';
  constructor(
    /** HTTP status; 0 when the API could not be reached at all. */
    readonly status: number,
    readonly title: string,
    readonly detail: string,
    /** The problem's stable `code` (src/errors.ts), e.g. `cart_empty`; `network` when unreachable. */
    readonly code: string,
    /** Seconds from Retry-After, when the API says when to try again. */
    readonly retryAfterSeconds?: number,
    /** The problem's extension members, e.g. `available` of `insufficient_stock`. */
    readonly extensions: Record<string, unknown> = {},
  ) {
    super(`${title}: ${detail}`);
  }
}

interface RequestOptions {
  body?: unknown;
  /** A body sent as is (an image), with its own Content-Type. */
  file?: Blob;
  headers?: Record<string, string>;
  signal?: AbortSignal;
  /** A route the API may answer without a token (CATALOG_PUBLIC_READ): a signed-out visitor calls it without one. */
  public?: boolean;
}

export interface Answer<T> {
  body: T;
  headers: Headers;
}

async function problemOf(response: Response): Promise<ApiError> {
  const retryAfter = Number(response.headers.get('retry-after'));
  const retryAfterSeconds = Number.isFinite(retryAfter) && retryAfter > 0 ? retryAfter : undefined;
  let problem: Record<string, unknown> = {};
  try {
    problem = (await response.json()) as typeof problem;
  } catch {
    // Not every failure has a problem body (a proxy's 502, a 404 outside the API): fall back to the status.
  }
  const text = (value: unknown, fallback: string) => (typeof value === 'string' && value.length > 0 ? value : fallback);
  const standard = new Set(['type', 'title', 'status', 'detail', 'instance', 'code']);
  return new ApiError(
    response.status,
    text(problem.title, response.statusText || `HTTP ${response.status}`),
    text(problem.detail, `The request failed with HTTP ${response.status}.`),
    text(problem.code, `http_${response.status}`),
    retryAfterSeconds,
    Object.fromEntries(Object.entries(problem).filter(([name]) => !standard.has(name))),
  );
}

/** How the API gets the person's token: none while signed out. */
export interface TokenSource {
  signedIn(): boolean;
  /** A token for the API; leaves the page to sign in when none can be had silently. */
  accessToken(): Promise<string>;
}

/** The API's routes, called with the signed-in person's access token. */
export class ShopApi {
  constructor(
    private readonly baseUrl: string,
    private readonly tokens: TokenSource,
    /** Called on 401 to a token that was sent: it was refused, the person must sign in again. */
    private readonly onUnauthorized: (error: ApiError) => Promise<void>,
  ) {}

  async request<T>(method: string, path: string, options: RequestOptions = {}): Promise<Answer<T>> {
    const anonymous = options.public === true && !this.tokens.signedIn();
    const headers: Record<string, string> = { accept: 'application/json', ...(anonymous ? {} : { authorization: `Bearer ${await this.tokens.accessToken()}` }), ...options.headers };
    if (options.body !== undefined) headers['content-type'] = 'application/json';
    if (options.file) headers['content-type'] = options.file.type;
    let response: Response;
    try {
      response = await fetch(`${this.baseUrl}${path}`, {
        method,
        headers,
        body: options.file ?? (options.body === undefined ? undefined : JSON.stringify(options.body)),
        signal: options.signal,
        cache: 'no-store',
      });
    } catch (error) {
      if (options.signal?.aborted) throw error;
      throw new ApiError(0, 'The shop cannot be reached', 'Check your connection and try again; nothing was changed by this attempt.', 'network');
    }
    if (!response.ok) {
      const error = await problemOf(response);
      if (response.status === 401 && !anonymous) await this.onUnauthorized(error);
      throw error;
    }
    const body = response.status === 204 ? undefined : await response.json();
    return { body: body as T, headers: response.headers };
  }

  async listProducts(query: ProductQuery, signal?: AbortSignal): Promise<Page<Product>> {
    const params = new URLSearchParams({ limit: '12' });
    for (const [name, value] of Object.entries(query)) if (value !== undefined && value !== '') params.set(name, String(value));
    return (await this.request<Page<Product>>('GET', `/products?${params}`, { signal, public: true })).body;
  }

  async listCategories(signal?: AbortSignal): Promise<Category[]> {
    return (await this.request<{ items: Category[] }>('GET', '/categories', { signal, public: true })).body.items;
  }

  /** The product and its ETag, which a change sends back as If-Match. */
  async getProduct(id: string, signal?: AbortSignal): Promise<{ product: Product; etag: string | null }> {
    const { body, headers } = await this.request<Product>('GET', `/products/${encodeURIComponent(id)}`, { signal, public: true });
    return { product: body, etag: headers.get('etag') };
  }

  async createProduct(input: ProductInput): Promise<Product> {
    return (await this.request<Product>('POST', '/products', { body: input })).body;
  }

  async replaceProduct(id: string, input: ProductInput, etag: string | null): Promise<{ product: Product; etag: string | null }> {
    const { body, headers } = await this.request<Product>('PUT', `/products/${encodeURIComponent(id)}`, {
      body: input,
      headers: etag ? { 'if-match': etag } : {},
    });
    return { product: body, etag: headers.get('etag') };
  }

  /** Uploads a picture (PNG, JPEG or WebP, at most 5 MiB); it is added after the product's other pictures. */
  async uploadImage(productId: string, file: Blob, alt: string): Promise<ProductImage> {
    return (await this.request<ProductImage>('POST', `/products/${encodeURIComponent(productId)}/images?${new URLSearchParams({ alt })}`, { file })).body;
  }

  /** Removes the product's picture at `index` (0-based, in the order of `images`). */
  async removeImage(productId: string, index: number): Promise<void> {
    await this.request('DELETE', `/products/${encodeURIComponent(productId)}/images/${index}`);
  }

  async getCart(signal?: AbortSignal): Promise<Cart> {
    return (await this.request<Cart>('GET', '/cart', { signal })).body;
  }

  async addToCart(productId: string, quantity: number): Promise<Cart> {
    return (await this.request<Cart>('POST', '/cart/items', { body: { productId, quantity } })).body;
  }

  async setQuantity(productId: string, quantity: number): Promise<Cart> {
    return (await this.request<Cart>('PUT', `/cart/items/${encodeURIComponent(productId)}`, { body: { quantity } })).body;
  }

  async removeFromCart(productId: string): Promise<Cart> {
    return (await this.request<Cart>('DELETE', `/cart/items/${encodeURIComponent(productId)}`)).body;
  }

  async checkout(idempotencyKey: string, shippingAddress?: ShippingAddress): Promise<CheckoutAccepted> {
    return (
      await this.request<CheckoutAccepted>('POST', '/cart/checkout', {
        headers: { 'idempotency-key': idempotencyKey },
        ...(shippingAddress ? { body: { shippingAddress } } : {}),
      })
    ).body;
  }

  async listOrders(cursor: string | undefined, signal?: AbortSignal, limit = 10): Promise<Page<Order>> {
    const query = new URLSearchParams({ limit: String(limit), ...(cursor ? { cursor } : {}) });
    return (await this.request<Page<Order>>('GET', `/orders?${query}`, { signal })).body;
  }

  async getOrder(id: string, signal?: AbortSignal): Promise<Order> {
    return (await this.request<Order>('GET', `/orders/${encodeURIComponent(id)}`, { signal })).body;
  }

  async cancelOrder(id: string): Promise<Order> {
    return (await this.request<Order>('POST', `/orders/${encodeURIComponent(id)}/cancel`)).body;
  }
}
