/*
 * npm run client -- <command> [options]: a command-line shop client built on MSAL.
 *
 * Sign-in: with SHOP_CLIENT_ID set (plus ENTRA_TENANT_ID and ENTRA_CLIENT_ID), against that Entra
 * tenant through the device code flow; otherwise against the local dev issuer through the
 * client-credentials grant (or, with --user, a dev user token signed with the issuer's key).
 *
 * MSAL accepts only https authorities: the dev issuer serves TLS with a self-signed certificate
 * kept in .local/dev-issuer/, and MSAL is given a `system.networkClient` whose https agent trusts
 * exactly that certificate (see src/client/tokens.ts), so no NODE_EXTRA_CA_CERTS is needed.
 */
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { createShopClient, ShopApiError, type ShopClient } from '../src/client/shopClient.js';
import { deviceCodeTokenProvider, devIssuerTokenProvider, type TokenProvider } from '../src/client/tokens.js';
import { createDevTokenMinter, DEFAULT_DEV_ISSUER_DIR, DEFAULT_HTTPS_PORT, devIssuerUrls, readDevIssuerState } from '../src/dev-issuer/index.js';

const usage = `Usage: npm run client -- <command> [options]

Commands:
  products [--limit N]            list products
  add <productId> [--quantity N]  add to the cart
  cart                            show the cart
  checkout                        check out the cart
  order <id>                      show an order
  orders [--limit N]              list your orders

Options:
  --api <url>          API base URL (default http://localhost:7071/api)
  --user <name>        dev issuer only: act as this dev user (delegated token) instead of the dev client app
  --dev-issuer-dir <p> dev issuer state directory (default ${DEFAULT_DEV_ISSUER_DIR})
  --https-port <n>     dev issuer HTTPS port (default ${DEFAULT_HTTPS_PORT})
  --help

Sign-in: set SHOP_CLIENT_ID, ENTRA_TENANT_ID and ENTRA_CLIENT_ID to use a real Entra tenant (device
code flow, cached in .local/msal-cache.json); otherwise the local dev issuer is used.
`;

const projectRoot = join(import.meta.dirname, '..');

function positiveInteger(value: string | undefined, name: string): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new Error(`${name} must be a positive integer`);
  return n;
}

function tokenProvider(values: { user?: string; 'dev-issuer-dir'?: string; 'https-port'?: string }): TokenProvider {
  const { SHOP_CLIENT_ID, ENTRA_TENANT_ID, ENTRA_CLIENT_ID } = process.env;
  if (SHOP_CLIENT_ID) {
    if (!ENTRA_TENANT_ID || !ENTRA_CLIENT_ID) throw new Error('SHOP_CLIENT_ID is set: ENTRA_TENANT_ID and ENTRA_CLIENT_ID are needed too');
    if (values.user) throw new Error('--user is for the dev issuer; against Entra you sign in as yourself');
    return deviceCodeTokenProvider({
      tenantId: ENTRA_TENANT_ID,
      apiClientId: ENTRA_CLIENT_ID,
      clientId: SHOP_CLIENT_ID,
      cachePath: join(projectRoot, '.local/msal-cache.json'),
    });
  }
  const dir = values['dev-issuer-dir'] ?? join(projectRoot, DEFAULT_DEV_ISSUER_DIR);
  const httpsPort = positiveInteger(values['https-port'], '--https-port') ?? DEFAULT_HTTPS_PORT;
  if (values.user) {
    const user = values.user;
    let token: Promise<string> | undefined;
    return () =>
      (token ??= readDevIssuerState(dir).then((state) => createDevTokenMinter(state, devIssuerUrls({ httpsPort }).issuer).mintUserToken({ user })));
  }
  return devIssuerTokenProvider({ dir, httpsPort });
}

async function run(client: ShopClient, command: string | undefined, args: string[], values: { limit?: string; quantity?: string }) {
  const limit = positiveInteger(values.limit, '--limit');
  switch (command) {
    case 'products':
      return client.listProducts({ limit });
    case 'add': {
      if (!args[0]) throw new Error('add needs a product id');
      return client.addToCart(args[0], positiveInteger(values.quantity, '--quantity') ?? 1);
    }
    case 'cart':
      return client.getCart();
    case 'checkout':
      return client.checkout({ idempotencyKey: randomUUID() });
    case 'order':
      if (!args[0]) throw new Error('order needs an order id');
      return client.getOrder(args[0]);
    case 'orders':
      return client.listOrders({ limit });
    default:
      throw new Error(command ? `unknown command ${command}\n\n${usage}` : usage);
  }
}

async function main(): Promise<void> {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      api: { type: 'string', default: 'http://localhost:7071/api' },
      limit: { type: 'string' },
      quantity: { type: 'string' },
      user: { type: 'string' },
      'dev-issuer-dir': { type: 'string' },
      'https-port': { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(usage);
    return;
  }
  const [command, ...args] = positionals;
  const client = createShopClient({ apiBaseUrl: values.api, getToken: tokenProvider(values) });
  const result = await run(client, command, args, values);
  process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
}

main().catch((error: unknown) => {
  if (error instanceof ShopApiError) {
    console.error(`Error ${error.message}`);
    console.error(JSON.stringify(error.problem, null, 2));
  } else {
    const e = error as { errorCode?: string; message?: string };
    console.error(e.errorCode ? `Sign-in failed (${e.errorCode}): ${e.message}` : `Error: ${e.message ?? String(error)}`);
    if (e.errorCode === 'endpoints_resolution_error' && !process.env.SHOP_CLIENT_ID) {
      console.error('The dev issuer did not answer: start it with npm run dev (or check --https-port).');
    }
  }
  process.exit(1);
});
