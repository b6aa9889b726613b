/** Stable codes callers (and tests) can switch on; each maps to one HTTP status. */
export type ErrorCode =
  | 'invalid_request'
  | 'unauthorized'
  | 'forbidden'
  | 'not_found'
  | 'method_not_allowed'
  | 'conflict'
  | 'payload_too_large'
  | 'unsupported_media_type'
  | 'unprocessable'
  | 'dependency_unavailable'
  | 'internal';

const statusOf: Record<ErrorCode, number> = {
  invalid_request: 400,
  unauthorized: 401,
  forbidden: 403,
  not_found: 404,
  method_not_allowed: 405,
  conflict: 409,
  payload_too_large: 413,
  unsupported_media_type: 415,
  unprocessable: 422,
  dependency_unavailable: 503,
  internal: 500,
};

const titleOf: Record<ErrorCode, string> = {
  invalid_request: 'Invalid request',
  unauthorized: 'Unauthorized',
  forbidden: 'Forbidden',
  not_found: 'Not found',
  method_not_allowed: 'Method not allowed',
  conflict: 'Conflict',
  payload_too_large: 'Payload too large',
  unsupported_media_type: 'Unsupported media type',
  unprocessable: 'Unprocessable request',
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
    this.status = statusOf[code];
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
