/*
 * npm run token -- --user alice [--roles Products.Write] [--scopes access_as_user] [--expires 3600]
 * npm run token -- --app
 *
 * Prints an access token for the local API (one line, nothing else on stdout), signed with the dev
 * issuer's key kept in .local/dev-issuer/ (created on first use). --app gets an app-only token
 * through the client-credentials grant, from the running dev issuer or one started for the call.
 */
import { connect } from 'node:net';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { devIssuerTokenProvider } from '../src/client/tokens.js';
import {
  createDevTokenMinter,
  DEFAULT_DEV_ISSUER_DIR,
  DEFAULT_HTTPS_PORT,
  devIssuerUrls,
  loadOrCreateDevIssuerState,
  startDevIssuer,
} from '../src/dev-issuer/index.js';
import { devIssuerPorts } from './devIssuerFromSettings.js';
import { loadLocalSettings } from './localSettings.js';

const usage = `Usage: npm run token -- [options]

Prints a dev access token for the shop API on stdout.

  --user <name>       delegated token for this dev user (default alice); same name, same user id
  --roles <a,b>       app roles to include (Products.Write, Orders.Read.All); repeatable
  --scopes <a,b>      delegated scopes (default access_as_user); repeatable
  --expires <secs>    lifetime in seconds (default 3600, at most 86400)
  --app               app-only token for the dev client, through the client-credentials grant
  --https-port <n>    the dev issuer's HTTPS port, part of the token's issuer (default: ENTRA_ISSUER's, else ${DEFAULT_HTTPS_PORT})
  --dir <path>        dev issuer state directory (default ${DEFAULT_DEV_ISSUER_DIR})
  --help              this text
`;

const list = (values: string[] | undefined) => values?.flatMap((v) => v.split(/[\s,]+/)).filter(Boolean);

function isListening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      user: { type: 'string' },
      roles: { type: 'string', multiple: true },
      scopes: { type: 'string', multiple: true },
      expires: { type: 'string' },
      app: { type: 'boolean', default: false },
      'https-port': { type: 'string' },
      dir: { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(usage);
    return;
  }
  const dir = values.dir ?? join(import.meta.dirname, '..', DEFAULT_DEV_ISSUER_DIR);
  loadLocalSettings();
  const httpsPort = values['https-port'] ? Number(values['https-port']) : devIssuerPorts().httpsPort;
  if (!Number.isInteger(httpsPort) || httpsPort < 1 || httpsPort > 65535) throw new Error('--https-port must be a port number');

  if (values.app) {
    if (values.user || values.roles || values.scopes || values.expires) {
      throw new Error('--app tokens carry the dev client roles and lifetime set by the issuer; drop --user, --roles, --scopes and --expires');
    }
    const running = await isListening(httpsPort);
    const issuer = running ? undefined : await startDevIssuer({ dir, httpsPort, httpPort: 0 });
    if (issuer) console.error(`[token] started the dev issuer on ${issuer.authority} for this call`);
    try {
      const token = await devIssuerTokenProvider({ dir, httpsPort })();
      process.stdout.write(`${token}\n`);
    } finally {
      await issuer?.close();
    }
    return;
  }

  const expiresInSeconds = values.expires === undefined ? undefined : Number(values.expires);
  const state = await loadOrCreateDevIssuerState(dir);
  const minter = createDevTokenMinter(state, devIssuerUrls({ httpsPort }).issuer);
  const token = await minter.mintUserToken({
    user: values.user ?? 'alice',
    roles: list(values.roles),
    scopes: list(values.scopes),
    expiresInSeconds,
  });
  process.stdout.write(`${token}\n`);
}

main().catch((error: unknown) => {
  console.error(`[token] ${(error as Error).message}`);
  process.exit(1);
});
