import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import { Agent, request as httpsRequest } from 'node:https';
import { dirname } from 'node:path';
import {
  ConfidentialClientApplication,
  PublicClientApplication,
  type AccountInfo,
  type ICachePlugin,
  type INetworkModule,
  type NetworkRequestOptions,
  type NetworkResponse,
} from '@azure/msal-node';
import { DEFAULT_DEV_ISSUER_DIR, DEFAULT_HTTPS_PORT, DEV_API_CLIENT_ID, DEV_CLIENT_ID, devIssuerUrls, readDevIssuerState } from '../dev-issuer/index.js';

/** Returns a bearer access token for the shop API (fresh or cached). */
export type TokenProvider = () => Promise<string>;

/**
 * An MSAL network client that trusts the dev issuer's self-signed certificate.
 *
 * MSAL only accepts https authorities, so the dev issuer serves its endpoints over TLS with a
 * certificate it generates. Rather than asking developers to set NODE_EXTRA_CA_CERTS (read once at
 * process start, and trusted by every connection of the process), MSAL gets this client through
 * `system.networkClient`: an https agent whose only trust anchor is that certificate. Certificate
 * and host name checks stay on.
 */
export function caTrustingNetworkClient(caPem: string, timeoutMs = 15_000): INetworkModule {
  const agent = new Agent({ ca: caPem, keepAlive: false });
  const send = <T>(method: 'GET' | 'POST', url: string, options: NetworkRequestOptions = {}, timeout?: number) =>
    new Promise<NetworkResponse<T>>((resolve, reject) => {
      const target = new URL(url);
      const body = method === 'POST' ? (options.body ?? '') : undefined;
      const headers: Record<string, string | number> = { ...options.headers };
      if (body !== undefined) headers['content-length'] = Buffer.byteLength(body);
      const requestFn = target.protocol === 'https:' ? httpsRequest : httpRequest;
      const req = requestFn(
        target,
        { method, headers, ...(target.protocol === 'https:' ? { agent } : {}), timeout: timeout ?? timeoutMs },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (chunk: Buffer) => chunks.push(chunk));
          res.on('error', reject);
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8');
            const responseHeaders: Record<string, string> = {};
            for (const [name, value] of Object.entries(res.headers)) if (value !== undefined) responseHeaders[name] = String(value);
            try {
              resolve({ headers: responseHeaders, body: JSON.parse(text) as T, status: res.statusCode ?? 0 });
            } catch {
              reject(new Error(`${method} ${url} answered ${res.statusCode} with a body that is not JSON`));
            }
          });
        },
      );
      req.on('timeout', () => req.destroy(new Error(`${method} ${url} timed out`)));
      req.on('error', reject);
      req.end(body);
    });
  return {
    sendGetRequestAsync: (url, options, timeout) => send('GET', url, options, timeout),
    sendPostRequestAsync: (url, options) => send('POST', url, options),
  };
}

export interface DevIssuerTokenProviderOptions {
  /** Where the dev issuer keeps its state (client secret, certificate); default `.local/dev-issuer`. */
  dir?: string;
  /** Default `https://localhost:7443/<dev tenant>`. */
  authority?: string;
  httpsPort?: number;
  /** Default: read from `dir`. */
  clientSecret?: string;
  /** Default: the certificate in `dir`. */
  caCert?: string;
}

/**
 * Client-credentials tokens from the local dev issuer through MSAL, exactly as an app gets them
 * from Entra: `ConfidentialClientApplication.acquireTokenByClientCredential` with scope
 * `api://<api>/.default`. MSAL caches the token in memory until shortly before it expires.
 */
export function devIssuerTokenProvider(options: DevIssuerTokenProviderOptions = {}): TokenProvider {
  let app: Promise<ConfidentialClientApplication> | undefined;
  const create = async () => {
    const needsState = options.clientSecret === undefined || options.caCert === undefined;
    const state = needsState ? await readDevIssuerState(options.dir ?? DEFAULT_DEV_ISSUER_DIR) : undefined;
    const authority = options.authority ?? devIssuerUrls({ httpsPort: options.httpsPort ?? DEFAULT_HTTPS_PORT }).authority;
    return new ConfidentialClientApplication({
      auth: {
        clientId: DEV_CLIENT_ID,
        authority,
        clientSecret: options.clientSecret ?? state!.clientSecret,
        // A known authority: MSAL skips Entra's instance discovery (login.microsoftonline.com) for it.
        knownAuthorities: [new URL(authority).host],
      },
      system: { networkClient: caTrustingNetworkClient(options.caCert ?? state!.tls.certPem) },
    });
  };
  return async () => {
    app ??= create();
    app.catch(() => (app = undefined));
    const result = await (await app).acquireTokenByClientCredential({ scopes: [`api://${DEV_API_CLIENT_ID}/.default`] });
    if (!result?.accessToken) throw new Error('The dev issuer returned no access token');
    return result.accessToken;
  };
}

export interface DeviceCodeTokenProviderOptions {
  tenantId: string;
  /** The API's application (client) id: the scope is `api://<it>/access_as_user`. */
  apiClientId: string;
  /** The public client app registration of this command-line client (SHOP_CLIENT_ID). */
  clientId: string;
  /** File to keep MSAL's token cache in, so sign-in is needed once, not per command. */
  cachePath?: string;
  /** Shows the device-code instructions (default: stderr, so stdout stays JSON). */
  prompt?: (message: string) => void;
}

function fileCachePlugin(path: string): ICachePlugin {
  return {
    async beforeCacheAccess(context) {
      try {
        context.tokenCache.deserialize(await readFile(path, 'utf8'));
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
      }
    },
    async afterCacheAccess(context) {
      if (!context.cacheHasChanged) return;
      await mkdir(dirname(path), { recursive: true, mode: 0o700 });
      await writeFile(path, context.tokenCache.serialize(), { mode: 0o600 });
      await chmod(path, 0o600);
    },
  };
}

/**
 * Delegated tokens from a real Entra tenant: silently from MSAL's cache (refresh token) when a user
 * signed in before, else through the device code flow (`acquireTokenByDeviceCode`).
 */
export function deviceCodeTokenProvider(options: DeviceCodeTokenProviderOptions): TokenProvider {
  const app = new PublicClientApplication({
    auth: { clientId: options.clientId, authority: `https://login.microsoftonline.com/${options.tenantId}` },
    ...(options.cachePath ? { cache: { cachePlugin: fileCachePlugin(options.cachePath) } } : {}),
  });
  const scopes = [`api://${options.apiClientId}/access_as_user`];
  const prompt = options.prompt ?? ((message: string) => process.stderr.write(`${message}\n`));
  return async () => {
    const [account]: AccountInfo[] = await app.getTokenCache().getAllAccounts();
    if (account) {
      const silent = await app.acquireTokenSilent({ account, scopes }).catch(() => null);
      if (silent?.accessToken) return silent.accessToken;
    }
    const result = await app.acquireTokenByDeviceCode({ scopes, deviceCodeCallback: (response) => prompt(response.message) });
    if (!result?.accessToken) throw new Error('Sign-in returned no access token');
    return result.accessToken;
  };
}
