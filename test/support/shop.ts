import { randomUUID } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { devIssuerSettings, startDevIssuer, type DevIssuer } from '../../src/dev-issuer/index.js';
import { projectRoot, startHostProcess, type HostProcess } from './hostProcess.js';

export interface Shop {
  /** e.g. http://localhost:41234/api */
  api: string;
  host: HostProcess;
  issuer: DevIssuer;
  /** A delegated token for a user name; a fresh unique name unless given. */
  token(options?: { user?: string; roles?: string[]; scopes?: string[] }): Promise<string>;
  /** fetch against the API with a bearer token and JSON body when given. */
  call(path: string, options?: { method?: string; token?: string; body?: unknown; headers?: Record<string, string> }): Promise<Response>;
  stop(): Promise<void>;
}

export const uniqueUser = (prefix = 'user') => `${prefix}-${randomUUID().slice(0, 8)}`;

/**
 * The shop as a user runs it: the built app under the local Functions host on a free port, with a
 * development issuer (also on free ports) for real signed tokens, against the real services.
 */
export async function startShop(options: { env?: Record<string, string | undefined>; nodeArgs?: string[] } = {}): Promise<Shop> {
  const issuer = await startDevIssuer({ dir: mkdtempSync(join(tmpdir(), 'shop-issuer-')), httpsPort: 0, httpPort: 0 });
  const host = await startHostProcess({
    appRoot: projectRoot,
    env: {
      POSTGRES_URL: process.env.POSTGRES_URL ?? 'postgres://postgres:postgres@127.0.0.1:5432/ecommerce',
      REDIS_URL: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379',
      RABBITMQ_URL: process.env.RABBITMQ_URL ?? 'amqp://guest:guest@127.0.0.1:5672',
      ...devIssuerSettings({ issuer: issuer.issuer, jwksUri: issuer.jwksUri }),
      ...options.env,
    },
    nodeArgs: options.nodeArgs,
  });
  const api = `${host.baseUrl}/api`;
  return {
    api,
    host,
    issuer,
    token: ({ user = uniqueUser(), roles, scopes } = {}) => issuer.mintUserToken({ user, roles, scopes }),
    call: (path, { method = 'GET', token, body, headers = {} } = {}) =>
      fetch(`${api}${path}`, {
        method,
        headers: {
          ...(token ? { authorization: `Bearer ${token}` } : {}),
          ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
          ...headers,
        },
        body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
      }),
    async stop() {
      await host.stop();
      await issuer.close();
    },
  };
}
