import type { HttpResponseInit } from '@azure/functions';
import { AppError } from '../errors.js';

export const problemContentType = 'application/problem+json';

/**
 * The storefront calls the API from another origin in Azure (Static Web Apps); a browser shows such a
 * page only the safelisted response headers unless the response names more, and App Service's CORS
 * settings cannot. These are the ones the storefront reads.
 */
export const exposedHeaders = { 'access-control-expose-headers': 'ETag, Location, Retry-After' };

/** An RFC 9457 problem response. `code` is the stable error code clients can switch on. */
export function problemResponse(error: AppError): HttpResponseInit {
  return {
    status: error.status,
    headers: { 'content-type': problemContentType, 'cache-control': 'no-store', ...exposedHeaders, ...error.headers },
    // Extension members first: one named like a standard member (status, type, ...) must not replace it.
    body: JSON.stringify({
      ...error.extensions,
      type: 'about:blank',
      title: error.title,
      status: error.status,
      detail: error.message,
      code: error.code,
    }),
  };
}

/** Turns anything thrown into a problem response; unknown errors never show their message or stack. */
export function toProblem(error: unknown, invocationId: string): { response: HttpResponseInit; unexpected: boolean } {
  if (error instanceof AppError) return { response: problemResponse(error), unexpected: false };
  const internal = new AppError('internal', `An unexpected error occurred. Reference: ${invocationId}`);
  return { response: problemResponse(internal), unexpected: true };
}
