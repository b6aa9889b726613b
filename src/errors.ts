/**
 * Stable codes callers (and tests) can switch on; each maps to one HTTP status. Generic codes cover
 * what a client handles the same way; each situation a client must tell apart has its own code.
 */
export const errorStatus = {
  invalid_request: 400,
  unknown_category: 400,
  unauthorized: 401,
  forbidden: 403,
  user_token_required: 403,
  not_found: 404,
  method_not_allowed: 405,
  cart_empty: 409,
  cart_line_limit: 409,
  cart_quantity_limit: 409,
  cart_products_unavailable: 409,
  insufficient_stock: 409,
  category_exists: 409,
  product_image_limit: 409,
  checkout_in_progress: 409,
  order_not_cancellable: 409,
  product_version_mismatch: 412,
  length_required: 411,
  payload_too_large: 413,
  unsupported_media_type: 415,
  unprocessable: 422,
  idempotency_key_reused: 422,
  order_total_too_large: 422,
  precondition_required: 428,
  dependency_unavailable: 503,
  internal: 500,
} as const;

export type ErrorCode = keyof typeof errorStatus;

/** What each code means, for the OpenAPI document. */
export const errorCodeDescriptions: Record<ErrorCode, string> = {
  invalid_request: 'The body, query or a header is invalid; `errors` lists where',
  unknown_category: 'The product names a category that does not exist; create it with POST /categories first',
  unauthorized: 'No valid access token',
  forbidden: 'The token lacks the app role or scope the route needs',
  user_token_required: 'The route acts for a signed-in user; an app-only token cannot own a cart or orders',
  not_found: 'No such resource (or not visible to this caller)',
  method_not_allowed: 'The route exists but not with this method; `Allow` lists the methods',
  cart_empty: 'The cart has nothing to check out',
  cart_line_limit: 'The cart already holds the most different products it can',
  cart_quantity_limit: 'The line would exceed the most units a line can hold',
  cart_products_unavailable: 'Some products in the cart no longer exist; `unavailableProducts` lists them',
  insufficient_stock: 'The line would hold more units than the product has in stock; `available` is its stock',
  category_exists: 'A category with this slug already exists',
  product_image_limit: 'The product already holds the most images it can',
  checkout_in_progress: 'Another checkout of this cart is being placed; retry shortly (Retry-After)',
  order_not_cancellable: 'The order can no longer be cancelled (PAYMENT_FAILED or REJECTED)',
  product_version_mismatch: 'If-Match names a version of the product that is no longer current; read it again',
  length_required: 'The body was sent chunked, without Content-Length: the Functions host does not pass such a body on; send it with Content-Length',
  payload_too_large: 'The body is larger than the route accepts: 1 MiB, or 5 MiB for an image',
  unsupported_media_type: 'The body must be JSON, or for an image upload a PNG, JPEG or WebP image of the type its Content-Type names',
  unprocessable: 'The request is well-formed but cannot be carried out',
  idempotency_key_reused: 'This Idempotency-Key was used with a different request body',
  order_total_too_large: 'The order total exceeds the largest amount an order can hold',
  precondition_required: 'The change needs an If-Match header with the ETag last read',
  dependency_unavailable: 'A dependency is down; retry after Retry-After seconds',
  internal: 'An unexpected error; the reference identifies it in the logs',
};

const titleOf: Record<ErrorCode, string> = {
  invalid_request: 'Invalid request',
  unknown_category: 'Unknown category',
  unauthorized: 'Unauthorized',
  forbidden: 'Forbidden',
  user_token_required: 'A user token is required',
  not_found: 'Not found',
  method_not_allowed: 'Method not allowed',
  cart_empty: 'The cart is empty',
  cart_line_limit: 'Too many products in the cart',
  cart_quantity_limit: 'Too many units of one product',
  cart_products_unavailable: 'Products no longer available',
  insufficient_stock: 'Not enough stock',
  category_exists: 'The category exists',
  product_image_limit: 'Too many images',
  checkout_in_progress: 'Checkout in progress',
  order_not_cancellable: 'Order not cancellable',
  product_version_mismatch: 'The product has changed',
  length_required: 'Content-Length required',
  payload_too_large: 'Payload too large',
  unsupported_media_type: 'Unsupported media type',
  unprocessable: 'Unprocessable request',
  idempotency_key_reused: 'Idempotency-Key reused',
  order_total_too_large: 'Order total too large',
  precondition_required: 'Precondition required',
  dependency_unavailable: 'Service unavailable',
  internal: 'Internal error',
};

export interface AppErrorOptions {
  cause?: unknown;
  /** Extra response headers, e.g. WWW-Authenticate or Allow. */
  headers?: Record<string, string>;
  /** Extra members of the problem body (RFC 9457 extension members), e.g. validation errors. */
  extensions?: Record<string, unknown>;
}

/** The one error type of the application: a stable code, an HTTP status and a message safe to show a client. */
export class AppError extends Error {
  override name = 'AppError';
  readonly status: number;
  readonly title: string;
  readonly headers: Record<string, string>;
  readonly extensions: Record<string, unknown>;

  constructor(
    readonly code: ErrorCode,
    message: string,
    options: AppErrorOptions = {},
  ) {
    super(message, { cause: options.cause });
    this.status = errorStatus[code];
    this.title = titleOf[code];
    this.headers = options.headers ?? {};
    this.extensions = options.extensions ?? {};
  }
}

/** A dependency (database, cache, broker) is down or timed out: the request may be retried later. */
export function dependencyUnavailable(dependency: string, cause: unknown): AppError {
  return new AppError('dependency_unavailable', `${dependency} is unavailable; try again later`, {
    cause,
    headers: { 'Retry-After': '5' },
  });
}

export function isAppError(error: unknown): error is AppError {
  return error instanceof AppError;
}
