import { app, type HttpRequest, type HttpResponseInit, type InvocationContext } from '@azure/functions';
import type { z } from 'zod';
import { AppError, type ErrorCode } from '../errors.js';
import type { AppRole, Principal } from '../adapters/auth/index.js';
import { requireRole, requireUser } from '../adapters/auth/index.js';
import { services } from '../app/container.js';
import { logger } from '../adapters/telemetry/logger.js';
import { exposedHeaders, toProblem } from './problem.js';

/** The largest JSON body; a route taking raw bytes (an image) names its own limit. */
export const maxBodyBytes = 1024 * 1024;

export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'DELETE';

/**
 * Who may call a route: anyone, any signed-in caller, a signed-in user (a delegated token: what the
 * route acts on belongs to a person, so app-only tokens get 403 user_token_required), a caller
 * with an app role, or for the catalog's reads: anyone when CATALOG_PUBLIC_READ is true (a token
 * sent must still be valid), else any signed-in caller.
 */
export type Access = 'anonymous' | 'authenticated' | 'catalog' | 'user' | AppRole;

export interface RouteRequest<Body, Query> {
  request: HttpRequest;
  context: InvocationContext;
  params: Record<string, string>;
  body: Body;
  /** The body's text as received ('' when none): the request body can be read only once. */
  rawBody: string;
  /** The body's bytes, on routes that take raw bytes (`binaryBody`). */
  bytes: Buffer;
  query: Query;
  /** Present on every route but anonymous ones. */
  principal: Principal;
}

export interface ApiResponse {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
}

/** A header of a request (always optional) or a response, for validation and the OpenAPI document. */
export interface HeaderSpec {
  description: string;
  /** Requests: a value sent must match it (else 400 invalid_request). */
  schema: z.ZodType<string>;
}

export interface ResponseSpec {
  description: string;
  schema?: z.ZodType;
  headers?: Record<string, HeaderSpec>;
  /** Error responses: the problem `code`s this route answers with this status (see src/errors.ts). */
  codes?: readonly ErrorCode[];
}

export interface RouteSpec<BodySchema extends z.ZodType | undefined, QuerySchema extends z.ZodType | undefined> {
  method: HttpMethod;
  /** Route template under the `api` prefix, e.g. `products/{id}`. */
  route: string;
  access: Access;
  summary: string;
  tags: string[];
  body?: BodySchema;
  /** The body may be absent (e.g. checkout); when present it must still be valid. */
  bodyOptional?: boolean;
  /** The body is raw bytes of these media types, up to `maxBytes` (413 above); the handler checks them. */
  binaryBody?: { contentTypes: readonly string[]; maxBytes: number; description: string };
  query?: QuerySchema;
  /** Request headers the route reads, by name as documented (matched case-insensitively). */
  headers?: Record<string, HeaderSpec>;
  /** Response status -> description, schema, headers and error codes, for the OpenAPI document. */
  responses: Record<number, ResponseSpec>;
  handler: (
    request: RouteRequest<BodySchema extends z.ZodType ? z.infer<BodySchema> : undefined, QuerySchema extends z.ZodType ? z.infer<QuerySchema> : undefined>,
  ) => Promise<ApiResponse>;
}

export interface RegisteredRoute {
  name: string;
  spec: RouteSpec<z.ZodType | undefined, z.ZodType | undefined>;
}

/** Every route registered through `apiRoute`, for the OpenAPI document and 405 answers. */
export const registeredRoutes: RegisteredRoute[] = [];

const anonymousPrincipal: Principal = Object.freeze({ userId: '', tenantId: '', kind: 'user', scopes: [], roles: [] });

function validationError(error: z.ZodError, where: 'body' | 'query'): AppError {
  const errors = error.issues.slice(0, 20).map((issue) => ({ path: [where, ...issue.path.map(String)].join('.'), message: issue.message }));
  const first = errors[0]!;
  return new AppError('invalid_request', `Invalid ${where}: ${first.path} ${first.message}`, { extensions: { errors } });
}

async function readBody(request: HttpRequest, limit: number): Promise<Buffer> {
  const declared = Number(request.headers.get('content-length') ?? '0');
  if (declared > limit) throw new AppError('payload_too_large', `The body is larger than ${limit} bytes`);
  const bytes = Buffer.from(await request.arrayBuffer());
  if (bytes.length > limit) throw new AppError('payload_too_large', `The body is larger than ${limit} bytes`);
  // The Functions host passes a body on only when Content-Length is above 0 (GrpcMessageConversionExtensions.ToRpcHttp):
  // a chunked one arrives empty, and must not be judged as absent.
  if (bytes.length === 0 && /chunked/i.test(request.headers.get('transfer-encoding') ?? '')) {
    throw new AppError('length_required', 'The body was sent chunked; send it with Content-Length');
  }
  return bytes;
}

/** The caller, per the route's access: a verified token, or no one where no token is needed. */
async function authenticate(access: Access, request: HttpRequest): Promise<Principal> {
  if (access === 'anonymous') return anonymousPrincipal;
  const authorization = request.headers.get('authorization');
  if (access === 'catalog' && authorization === null && services().settings.CATALOG_PUBLIC_READ) return anonymousPrincipal;
  const principal = await services().verifier.verify(authorization);
  if (access === 'user') requireUser(principal);
  else if (access !== 'authenticated' && access !== 'catalog') requireRole(principal, access);
  return principal;
}

function parseJsonBody(request: HttpRequest, bytes: Buffer, schema: z.ZodType, optional: boolean): unknown {
  if (bytes.length === 0) {
    if (optional) return undefined;
    throw new AppError('invalid_request', 'A JSON body is required');
  }
  const contentType = (request.headers.get('content-type') ?? '').split(';')[0]!.trim().toLowerCase();
  if (contentType !== 'application/json' && !/^application\/[\w.+-]+\+json$/.test(contentType)) {
    throw new AppError('unsupported_media_type', 'The body must be JSON (Content-Type: application/json)', { headers: { 'Accept-Post': 'application/json' } });
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(bytes.toString('utf8'));
  } catch {
    throw new AppError('invalid_request', 'The body is not valid JSON');
  }
  const result = schema.safeParse(parsed);
  if (!result.success) throw validationError(result.error, 'body');
  return result.data;
}

function parseQuery(request: HttpRequest, schema: z.ZodType): unknown {
  const values: Record<string, string> = {};
  for (const [key, value] of request.query.entries()) if (!(key in values)) values[key] = value;
  const result = schema.safeParse(values);
  if (!result.success) throw validationError(result.error, 'query');
  return result.data;
}

function checkHeaders(request: HttpRequest, headers: Record<string, HeaderSpec>): void {
  for (const [name, { schema }] of Object.entries(headers)) {
    const value = request.headers.get(name);
    if (value === null) continue;
    const result = schema.safeParse(value);
    if (!result.success) {
      const { message } = result.error.issues[0]!;
      throw new AppError('invalid_request', `Invalid header: ${name} ${message}`, { extensions: { errors: [{ path: `header.${name}`, message }] } });
    }
  }
}

// A frozen body is one the read cache shares among requests (ReadThroughCache freezes what it
// stores): its JSON cannot change, so it is serialised once, not once per request.
const serialisedBodies = new WeakMap<object, string>();

function jsonOf(body: unknown): string {
  if (typeof body !== 'object' || body === null || !Object.isFrozen(body)) return JSON.stringify(body);
  let json = serialisedBodies.get(body);
  if (json === undefined) serialisedBodies.set(body, (json = JSON.stringify(body)));
  return json;
}

function toResponse(result: ApiResponse): HttpResponseInit {
  const headers = { 'cache-control': 'no-store', ...exposedHeaders, ...result.headers };
  if (result.body === undefined) return { status: result.status, headers };
  // The text body with its content type, not jsonBody: the model would serialise it and copy the headers once more.
  return { status: result.status, headers: { 'content-type': 'application/json', ...headers }, body: jsonOf(result.body) };
}

/**
 * Registers an HTTP function with `app.http` and wraps its handler with what every route shares:
 * authentication and roles, body and query validation, and problem+json for every error. The
 * handler itself only calls a use-case and shapes its result.
 */
export function apiRoute<B extends z.ZodType | undefined = undefined, Q extends z.ZodType | undefined = undefined>(name: string, spec: RouteSpec<B, Q>): void {
  registeredRoutes.push({ name, spec: spec as unknown as RegisteredRoute['spec'] });
  app.http(name, {
    methods: [spec.method],
    route: spec.route,
    // Entra tokens are checked by the app; function keys would only get in the way of the SPA/client.
    authLevel: 'anonymous',
    handler: async (request, context) => {
      try {
        const principal = await authenticate(spec.access, request);
        if (spec.headers) checkHeaders(request, spec.headers);
        const query = spec.query ? parseQuery(request, spec.query) : undefined;
        const bytes = spec.body ? await readBody(request, maxBodyBytes) : spec.binaryBody ? await readBody(request, spec.binaryBody.maxBytes) : Buffer.alloc(0);
        const body = spec.body ? parseJsonBody(request, bytes, spec.body, spec.bodyOptional ?? false) : undefined;
        const rawBody = spec.binaryBody ? '' : bytes.toString('utf8');
        const result = await spec.handler({ request, context, params: request.params, principal, body, rawBody, bytes, query } as Parameters<typeof spec.handler>[0]);
        return toResponse(result);
      } catch (error) {
        const { response, unexpected } = toProblem(error, context.invocationId);
        if (unexpected || (error instanceof AppError && error.status >= 500)) {
          logger.error('request failed', { function: context.functionName, invocationId: context.invocationId, status: response.status, error });
        }
        return response;
      }
    },
  });
}
