/*
 * The storefront's local web server, used by `npm run dev`, `npm run web` and the browser tests:
 * serves the built site (web/dist) with a fallback to index.html for its client-side routes, answers
 * /config.json with the sign-in settings of the environment, and forwards /api/* to the Functions
 * host (the local host or `func start`), so the storefront and the API share one origin and the
 * browser needs no CORS. In Azure the same site is static files plus a config.json (docs/storefront.md).
 */
import { createReadStream, existsSync, statSync } from 'node:fs';
import { createServer, request, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { extname, join, normalize, sep } from 'node:path';
import { DEV_API_SCOPE, DEV_SPA_CLIENT_ID, DEV_TENANT_ID, devIssuerUrls } from '../src/dev-issuer/index.js';

export const DEFAULT_STOREFRONT_PORT = 5173;

export interface StorefrontOptions {
  /** The built site: web/dist. */
  distDir: string;
  /** Where the Functions host listens, e.g. `http://127.0.0.1:7071`; /api/* goes there. */
  apiOrigin: string;
  /** The body of /config.json, made per request so a dev issuer started later is still found. */
  config: () => Promise<unknown>;
  port?: number;
  host?: string;
}

export interface Storefront {
  url: string;
  close(): Promise<void>;
}

const contentTypes: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.map': 'application/json; charset=utf-8',
  '.txt': 'text/plain; charset=utf-8',
};

function sendProblem(res: ServerResponse, status: number, code: string, title: string, detail: string, headers: Record<string, string> = {}): void {
  if (res.headersSent) return void res.destroy();
  res.writeHead(status, { 'content-type': 'application/problem+json', 'cache-control': 'no-store', ...headers });
  res.end(JSON.stringify({ type: 'about:blank', title, status, detail, code }));
}

/** The sign-in settings for the local dev issuer, whose endpoints the browser reaches over plain HTTP on loopback. */
export function devIssuerConfig(ports: { httpsPort?: number; httpPort?: number } = {}): () => Promise<unknown> {
  const urls = devIssuerUrls(ports);
  return async () => {
    // MSAL gets the issuer's plain-HTTP discovery document as its metadata, so it never calls the
    // self-signed HTTPS endpoint that the browser would refuse without a certificate exception.
    const discovery = await fetch(urls.httpDiscoveryUri).then((response) => {
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      return response.text();
    });
    return {
      apiBaseUrl: '/api',
      auth: {
        clientId: DEV_SPA_CLIENT_ID,
        authority: urls.authority,
        apiScope: DEV_API_SCOPE,
        knownAuthorities: [new URL(urls.authority).host],
        authorityMetadata: discovery,
      },
    };
  };
}

/** The sign-in settings for a real Entra tenant: the API's registration and the storefront's SPA registration. */
export function entraConfig(settings: { tenantId: string; apiClientId: string; storefrontClientId: string }): () => Promise<unknown> {
  return async () => ({
    apiBaseUrl: '/api',
    auth: {
      clientId: settings.storefrontClientId,
      authority: `https://login.microsoftonline.com/${settings.tenantId}`,
      apiScope: `api://${settings.apiClientId}/access_as_user`,
    },
  });
}

/** The config for the environment's ENTRA_* settings: the dev issuer's tenant, or a real tenant with STOREFRONT_CLIENT_ID. */
export function configFromEnvironment(env: NodeJS.ProcessEnv = process.env): () => Promise<unknown> {
  if (env.ENTRA_TENANT_ID === DEV_TENANT_ID) return devIssuerConfig();
  const { ENTRA_TENANT_ID: tenantId, ENTRA_CLIENT_ID: apiClientId, STOREFRONT_CLIENT_ID: storefrontClientId } = env;
  if (!tenantId || !apiClientId || !storefrontClientId) {
    return async () => {
      throw new Error('Sign-in is not configured: set ENTRA_TENANT_ID, ENTRA_CLIENT_ID and STOREFRONT_CLIENT_ID (docs/storefront.md)');
    };
  }
  return entraConfig({ tenantId, apiClientId, storefrontClientId });
}

function forwardToApi(req: IncomingMessage, res: ServerResponse, apiOrigin: string): void {
  const target = new URL(req.url ?? '/', apiOrigin);
  const upstream = request(target, { method: req.method, headers: { ...req.headers, host: target.host } }, (answer) => {
    res.writeHead(answer.statusCode ?? 502, answer.headers);
    answer.pipe(res);
  });
  upstream.on('error', () =>
    sendProblem(res, 503, 'dependency_unavailable', 'Service unavailable', `The shop's API at ${apiOrigin} is not answering; try again shortly.`, { 'retry-after': '5' }),
  );
  req.pipe(upstream);
}

function serveFile(res: ServerResponse, path: string, immutable: boolean): void {
  res.writeHead(200, {
    'content-type': contentTypes[extname(path)] ?? 'application/octet-stream',
    // Vite names assets by content hash: they never change. index.html must be fresh to name the new ones.
    'cache-control': immutable ? 'public, max-age=31536000, immutable' : 'no-cache',
    'x-content-type-options': 'nosniff',
    // The sign-in answer arrives in the URL: no page may see it as a referrer.
    'referrer-policy': 'no-referrer',
  });
  createReadStream(path).pipe(res);
}

export async function startStorefront(options: StorefrontOptions): Promise<Storefront> {
  const root = normalize(options.distDir);
  const index = join(root, 'index.html');

  const server: Server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://localhost').pathname;
    if (path === '/api' || path.startsWith('/api/')) return forwardToApi(req, res, options.apiOrigin);
    if (req.method !== 'GET' && req.method !== 'HEAD') return sendProblem(res, 405, 'method_not_allowed', 'Method not allowed', 'The storefront serves pages only.', { allow: 'GET, HEAD' });
    if (path === '/config.json') {
      options.config().then(
        (config) => {
          res.writeHead(200, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' });
          res.end(JSON.stringify(config));
        },
        (error: Error) => sendProblem(res, 503, 'sign_in_unavailable', 'Sign-in is unavailable', `${error.message}. Is the development issuer running (npm run dev starts it; npm run issuer alone)?`),
      );
      return;
    }
    if (!existsSync(index)) {
      return sendProblem(res, 503, 'storefront_not_built', 'The storefront is not built', 'Run npm run build: it writes web/dist.');
    }
    let file: string;
    try {
      file = normalize(join(root, decodeURIComponent(path)));
    } catch {
      return sendProblem(res, 400, 'invalid_request', 'Invalid request', 'The path is not valid percent-encoding.');
    }
    if (file.startsWith(root + sep) && existsSync(file) && statSync(file).isFile()) return serveFile(res, file, path.startsWith('/assets/'));
    // Any other path is one of the app's own routes (/cart, /orders/...): the app decides what it shows.
    if (extname(path) === '') return serveFile(res, index, false);
    sendProblem(res, 404, 'not_found', 'Not found', `No file at ${path.slice(0, 200)}.`);
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? DEFAULT_STOREFRONT_PORT, options.host ?? '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    // localhost, not 127.0.0.1: the redirect URI registered for the storefront names it.
    url: `http://localhost:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
