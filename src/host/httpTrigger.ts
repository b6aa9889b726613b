import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { AppRegistry, RegisteredFunction } from './functionsCore.js';
import type { RpcHttpCookie, RpcHttpData, RpcInvocationRequest, RpcInvocationResponse } from './coreTypes.js';
import type { HostOptions } from './hostConfig.js';
import { withFunctionTimeout } from './functionTimeout.js';
import { invokeFunction } from './invoke.js';
import type { HostLogger } from './logger.js';
import { startRequestSpan } from './requestSpan.js';
import { compareRoutes, compileRoute, splitPath, type CompiledRoute } from './routeTemplate.js';

const allMethods = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD', 'OPTIONS', 'TRACE'];

export interface HttpFunctionRoute {
  fn: RegisteredFunction;
  triggerName: string;
  route: CompiledRoute;
  methods: string[];
  authLevel: string;
}

/** The HTTP functions of the app, most specific route first (the order the host's router tries them). */
export function httpRoutes(registry: AppRegistry): HttpFunctionRoute[] {
  return registry
    .functionsWithTrigger('httpTrigger')
    .map(({ fn, triggerName, binding }) => ({
      fn,
      triggerName,
      route: compileRoute((binding.route as string | undefined) ?? fn.metadata.name),
      methods: ((binding.methods as string[] | undefined) ?? allMethods).map((m) => m.toUpperCase()),
      authLevel: String(binding.authLevel ?? 'function'),
    }))
    .sort((a, b) => compareRoutes(a.route, b.route));
}

class BodyTooLarge extends Error {
  /** Body bytes read before the limit was known to be passed (0 when Content-Length told it). */
  constructor(readonly bytesRead: number) {
    super('request body too large');
  }
}

/** Reads the body into memory up to `limit` bytes; past it, rejects with BodyTooLarge and keeps nothing more. */
function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers['content-length']);
    if (Number.isFinite(declared) && declared > limit) return reject(new BodyTooLarge(0));
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size <= limit) return void chunks.push(chunk);
      req.off('data', onData).pause();
      chunks.length = 0;
      reject(new BodyTooLarge(size));
    };
    req.on('data', onData);
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

/** How long, and how many bytes past the limit, the host reads (and drops) of a body over the limit. */
const lingerAfterTooLarge = { ms: 5_000, bytes: 1024 * 1024 };

/**
 * Answers 413 with the problem body the app gives for bodies over its own limit. A client still
 * sending would fail with a broken pipe before reading an answer, so a body that ends within
 * `lingerAfterTooLarge` is read and dropped first; one that goes on is cut off: the connection is
 * destroyed without reading the rest.
 */
function refuseTooLarge(req: IncomingMessage, res: ServerResponse, limit: number, bytesRead: number): void {
  res.shouldKeepAlive = false;
  const answer = () => {
    if (res.headersSent) return;
    const detail = `The body is larger than ${limit} bytes`;
    res.writeHead(413, { 'content-type': 'application/problem+json', 'cache-control': 'no-store' });
    res.end(JSON.stringify({ type: 'about:blank', title: 'Payload too large', status: 413, detail, code: 'payload_too_large' }));
  };
  if (req.readableEnded) return answer();
  // Counted from the body's start, so a body declared too large gets the same allowance as one found so by reading.
  let seen = bytesRead;
  const cutOff = () => {
    clearTimeout(timer);
    answer();
    req.socket.destroy();
  };
  const timer = setTimeout(cutOff, lingerAfterTooLarge.ms).unref();
  req.on('data', (chunk: Buffer) => {
    seen += chunk.length;
    if (seen > limit + lingerAfterTooLarge.bytes) cutOff();
  });
  req.once('end', () => {
    clearTimeout(timer);
    answer();
  });
  req.resume();
}

function headersOf(req: IncomingMessage): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(req.headers)) {
    if (value !== undefined) headers[name] = Array.isArray(value) ? value.join(', ') : value;
  }
  return headers;
}

/**
 * The query as the real host passes it: one entry per name, a repeated name's values joined with a
 * comma (ASP.NET Core's `StringValues.ToString()`; `?limit=1&limit=2` reached the app as `1,2` under
 * the real host, docs/local-host.md "Under the real host"). The library reads this map when it is
 * present instead of the URL, where the app would see only the first value.
 */
function queryOf(url: string): Record<string, string> {
  const { searchParams } = new URL(url);
  return Object.fromEntries([...new Set(searchParams.keys())].map((name) => [name, searchParams.getAll(name).join(',')]));
}

/**
 * The invocation request for one HTTP request: an RpcHttp as the host builds it, with plain maps
 * (the host sends `nullableHeaders`/`nullableQuery`/`nullableParams` to this worker; the library reads
 * either), the body as bytes (the worker asks for RawHttpBodyBytes) and the trace context of the request's
 * SERVER span (requestSpan.ts).
 */
export function httpInvocationRequest(
  triggerName: string,
  request: { method: string; url: string; headers: Record<string, string>; params: Record<string, string>; body: Buffer },
  traceContext?: RpcInvocationRequest['traceContext'],
): Omit<RpcInvocationRequest, 'invocationId'> {
  const http: RpcHttpData = {
    method: request.method,
    url: request.url,
    headers: request.headers,
    query: queryOf(request.url),
    params: request.params,
    body: request.body.length > 0 ? { bytes: request.body } : null,
  };
  return { inputData: [{ name: triggerName, data: { http } }], traceContext };
}

function cookieHeader(cookie: RpcHttpCookie): string {
  const parts = [`${cookie.name ?? ''}=${cookie.value ?? ''}`];
  if (cookie.domain?.value) parts.push(`Domain=${cookie.domain.value}`);
  if (cookie.path?.value) parts.push(`Path=${cookie.path.value}`);
  const expires = cookie.expires?.value?.seconds;
  if (expires !== undefined && expires !== null) {
    const seconds = typeof expires === 'number' ? expires : expires.toNumber();
    parts.push(`Expires=${new Date(seconds * 1000).toUTCString()}`);
  }
  const maxAge = cookie.maxAge?.value;
  if (maxAge !== undefined && maxAge !== null) parts.push(`Max-Age=${typeof maxAge === 'number' ? maxAge : maxAge.toNumber()}`);
  if (cookie.secure?.value) parts.push('Secure');
  if (cookie.httpOnly?.value) parts.push('HttpOnly');
  const sameSite = { lax: 'Lax', strict: 'Strict', explicitNone: 'None', none: undefined }[cookie.sameSite ?? 'none'];
  if (sameSite) parts.push(`SameSite=${sameSite}`);
  return parts.join('; ');
}

function httpResult(route: HttpFunctionRoute, response: RpcInvocationResponse): RpcHttpData | undefined {
  const outName = Object.entries(route.fn.metadata.bindings).find(
    ([, b]) => b.direction === 'out' && b.type?.toLowerCase() === 'http',
  )?.[0];
  if (outName === '$return') return response.returnValue?.http ?? undefined;
  return response.outputData?.find((o) => o.name === outName)?.data?.http ?? undefined;
}

function writeResult(res: ServerResponse, result: RpcHttpData | undefined): void {
  if (!result) {
    // The worker sends no HTTP output when the handler returns nothing: the host answers 200, empty.
    res.writeHead(200).end();
    return;
  }
  const status = Number(result.statusCode ?? 200);
  for (const [name, value] of Object.entries(result.headers ?? {})) res.setHeader(name, value);
  const cookies = (result.cookies ?? []).map(cookieHeader);
  if (cookies.length > 0) res.setHeader('set-cookie', cookies);
  const body = result.body?.bytes ?? (result.body?.string !== undefined && result.body?.string !== null ? Buffer.from(result.body.string) : undefined);
  res.statusCode = status;
  res.end(body && body.length > 0 && status !== 204 && status !== 304 ? body : undefined);
}

/** Serves the app's HTTP triggers under the route prefix, with the host's routing semantics. */
export class HttpTriggerServer {
  readonly #server: Server;
  readonly #routes: HttpFunctionRoute[];
  readonly #inFlight = new Set<Promise<void>>();

  constructor(
    private readonly registry: AppRegistry,
    private readonly options: HostOptions,
    private readonly logger: HostLogger,
  ) {
    this.#routes = httpRoutes(registry);
    // Idle keep-alive connections stay open 130 s, Kestrel's default under the Functions host, so
    // clients reusing a pooled connection rarely race its close; slow requests are still bounded.
    this.#server = createServer({ requestTimeout: 30_000, headersTimeout: 10_000, keepAliveTimeout: 130_000 }, (req, res) => {
      const work = this.#handle(req, res).catch((error: unknown) => {
        this.logger.error(`Unhandled error serving ${req.method} ${req.url}: ${(error as Error).stack ?? error}`);
        if (!res.headersSent) res.writeHead(500).end();
      });
      this.#inFlight.add(work);
      void work.finally(() => this.#inFlight.delete(work));
    });
  }

  get routes(): readonly HttpFunctionRoute[] {
    return this.#routes;
  }

  async listen(port: number, host?: string): Promise<number> {
    await new Promise<void>((resolve, reject) => {
      this.#server.once('error', reject);
      this.#server.listen(port, host, () => resolve());
    });
    return (this.#server.address() as AddressInfo).port;
  }

  /** Stops accepting connections and waits for in-flight requests (up to the function timeout). */
  async close(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.#server.close(() => resolve()));
    this.#server.closeIdleConnections();
    await Promise.race([Promise.allSettled([...this.#inFlight]), delay(this.options.shutdownDrainMs)]);
    this.#server.closeAllConnections();
    await closed;
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', `http://${req.headers.host ?? 'localhost'}`);
    const method = (req.method ?? 'GET').toUpperCase();
    const requestSpan = startRequestSpan(req, res, url);
    const segments = splitPath(url.pathname);
    const prefix = splitPath(this.options.routePrefix);
    if (!prefix.every((p, i) => segments[i]?.toLowerCase() === p.toLowerCase())) return void res.writeHead(404).end();
    const pathSegments = segments.slice(prefix.length);

    let match: { route: HttpFunctionRoute; params: Record<string, string> } | undefined;
    for (const route of this.#routes) {
      const params = route.route.match(pathSegments);
      if (!params) continue;
      if (route.methods.includes(method)) {
        match = { route, params };
        break;
      }
    }
    // The host's router treats a method mismatch as no match at all: 404, like an unknown path.
    if (!match) return void res.writeHead(404).end();
    requestSpan.invokes(match.route.fn.metadata.name);

    let body: Buffer;
    try {
      body = await readBody(req, this.options.maxRequestBodyBytes);
    } catch (error) {
      if (error instanceof BodyTooLarge) return refuseTooLarge(req, res, this.options.maxRequestBodyBytes, error.bytesRead);
      throw error;
    }

    const request = httpInvocationRequest(
      match.route.triggerName,
      { method, url: url.toString(), headers: headersOf(req), params: match.params, body },
      requestSpan.traceContext,
    );
    let response: RpcInvocationResponse;
    try {
      ({ response } = await withFunctionTimeout(
        invokeFunction(this.registry, match.route.fn, request, this.logger),
        this.options.functionTimeoutMs,
        match.route.fn.metadata.name,
      ));
    } catch (error) {
      this.logger.error(`Executed '${match.route.fn.metadata.name}' (Failed): ${(error as Error)?.stack ?? String(error)}`);
      if (!res.headersSent) res.writeHead(500).end();
      return;
    }
    writeResult(res, httpResult(match.route, response));
  }
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}

export { allMethods };
