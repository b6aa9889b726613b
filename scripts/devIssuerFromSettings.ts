/*
 * The local development issuer where the ENTRA_* settings expect it: `npm run dev`, `npm start` and
 * `npm run issuer` start it on the ports of ENTRA_ISSUER (HTTPS) and ENTRA_JWKS_URI (plain HTTP), so
 * pointing those settings at other ports (a second shop on one machine, CI) moves the issuer too.
 */
import { join } from 'node:path';
import { DEFAULT_HTTP_PORT, DEFAULT_HTTPS_PORT, DEV_TENANT_ID, startDevIssuer, type DevIssuer } from '../src/dev-issuer/index.js';
import { projectRoot } from './localSettings.js';

/** The port of a loopback URL setting, or the fallback when it is unset, not loopback or has none. */
function loopbackPort(url: string | undefined, fallback: number): number {
  if (!url || !URL.canParse(url)) return fallback;
  const { hostname, port } = new URL(url);
  return ['localhost', '127.0.0.1'].includes(hostname) && port ? Number(port) : fallback;
}

/** The dev issuer's ports the settings name: HTTPS from ENTRA_ISSUER, plain HTTP from ENTRA_JWKS_URI. */
export function devIssuerPorts(env: NodeJS.ProcessEnv = process.env): { httpsPort: number; httpPort: number } {
  return { httpsPort: loopbackPort(env.ENTRA_ISSUER, DEFAULT_HTTPS_PORT), httpPort: loopbackPort(env.ENTRA_JWKS_URI, DEFAULT_HTTP_PORT) };
}

/** Whether the settings point the API at the dev tenant (the sample's value), whose issuer runs here. */
export const usesDevIssuer = (env: NodeJS.ProcessEnv = process.env) => env.ENTRA_TENANT_ID === DEV_TENANT_ID;

/** Starts the dev issuer on the settings' ports; exits the process with one line when it cannot. */
export async function startDevIssuerFromSettings(label: string, env: NodeJS.ProcessEnv = process.env): Promise<DevIssuer> {
  return startDevIssuer({ dir: join(projectRoot, '.local/dev-issuer'), ...devIssuerPorts(env) }).catch((error: NodeJS.ErrnoException) => {
    const reason = error.code === 'EADDRINUSE' ? `port ${(error as { port?: number }).port} is in use (is another npm run dev, npm start or npm run issuer running?)` : error.message;
    console.error(`[${label}] cannot start the development issuer: ${reason}`);
    process.exit(1);
  });
}
