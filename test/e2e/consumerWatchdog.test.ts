import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import amqp from 'amqplib';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { webApiVersion } from '../../src/adapters/azure/siteRestarter.js';
import { declareTopology } from '../../src/adapters/rabbitmq/topology.js';
import { createPrivateVhost, type PrivateVhost } from '../support/privateVhost.js';
import { startShop, type Shop } from '../support/shop.js';

// Its own site, so its state (a row per site) is apart from the integration suite's in the same table.
const siteId = `/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg-shop/providers/Microsoft.Web/sites/e2e-${process.pid}`;
const postgresUrl = process.env.POSTGRES_URL ?? 'postgres://postgres:postgres@127.0.0.1:5432/ecommerce';

interface Recorded {
  method: string;
  url: string;
  headers: Record<string, string | string[] | undefined>;
}

/**
 * The watchdog as it runs in Azure, in the built app under the host (the local one, or the real one
 * with FUNCTIONS_HOST_COMMAND): its timer, the broker's consumer count, the Postgres state, the
 * managed identity's token from App Service's identity endpoint (IDENTITY_ENDPOINT and
 * IDENTITY_HEADER, read by @azure/identity) and the restart call, all real; one local HTTP server
 * stands in for the identity endpoint and for Resource Manager. The test plays the platform: when the
 * restart is asked for, it restarts the host.
 */
describe('the consumer watchdog in the running app', () => {
  let vhost: PrivateVhost;
  let shop: Shop | undefined;
  let server: Server;
  let endpoint: string;
  const requests: Recorded[] = [];
  const env = () => ({
    RABBITMQ_URL: vhost.url,
    // Its other timers stay off: they would pull the shared database's outbox rows and stranded orders into this vhost.
    'AzureWebJobs.outboxSweep.Disabled': 'true',
    'AzureWebJobs.resolveStrandedOrders.Disabled': 'true',
    CONSUMER_WATCHDOG_SITE_ID: siteId,
    CONSUMER_WATCHDOG_AFTER_SECONDS: '60',
    AZURE_RESOURCE_MANAGER_ENDPOINT: endpoint,
    IDENTITY_ENDPOINT: `${endpoint}/msi/token`,
    IDENTITY_HEADER: 'identity-header-secret',
  });
  const consumersOf = async (queue: string) => {
    const body = (await (await fetch(`${shop!.api}/health`)).json()) as { consumers?: Record<string, number | 'missing'> };
    return body.consumers?.[queue];
  };

  beforeAll(async () => {
    server = createServer((request, response) => {
      requests.push({ method: request.method!, url: request.url!, headers: request.headers });
      if (request.url!.startsWith('/msi/token')) {
        const expiresOn = Math.floor(Date.now() / 1000) + 3600;
        response.writeHead(200, { 'content-type': 'application/json' }).end(
          JSON.stringify({ access_token: 'token-from-the-identity-endpoint', expires_on: String(expiresOn), expires_in: '3600', resource: endpoint, token_type: 'Bearer' }),
        );
      } else {
        response.writeHead(200).end();
      }
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    vhost = await createPrivateVhost();
    shop = await startShop({ env: env() });
  });
  afterAll(async () => {
    await shop?.stop();
    const db = new pg.Client(postgresUrl);
    await db.connect();
    await db.query('DELETE FROM consumer_watchdog WHERE site = $1', [siteId]);
    await db.end();
    await vhost?.delete();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  it('when a trigger queue loses its consumer for the window, then the app asks Resource Manager to restart it with the identity token, and the restarted host consumes again', { timeout: 300_000 }, async () => {
    await expect.poll(() => consumersOf('payment-processed'), { timeout: 30_000 }).toBe(1);
    // The broker cancels the consumer with its queue; declared again, the queue has none (the host does not consume again).
    const connection = await amqp.connect(vhost.url);
    try {
      await (await connection.createChannel()).deleteQueue('payment-processed');
      await expect.poll(() => consumersOf('payment-processed'), { timeout: 10_000 }).toBe('missing');
      await declareTopology(await connection.createChannel());
    } finally {
      await connection.close();
    }
    await expect.poll(() => consumersOf('payment-processed'), { timeout: 10_000 }).toBe(0);
    const lostAt = Date.now();

    // At most the window (60 s) plus a minute to the first look; the rest is slack for a loaded machine.
    const restart = await expect
      .poll(() => requests.find((r) => r.method === 'POST'), { timeout: 210_000, interval: 1_000 })
      .toBeDefined()
      .then(
        () => requests.find((r) => r.method === 'POST')!,
        (error: unknown) => {
          // What the host said about the watchdog's timer, to tell a timer that never ran from a look that decided otherwise.
          const said = shop!.host.output().split('\n').filter((line) => /consumerWatchdog|consumer watchdog|[Tt]imer|[Ss]ingleton|lease/.test(line));
          throw new Error(`no restart asked for; the host said:\n${said.slice(-40).join('\n')}`, { cause: error });
        },
      );
    const waitedMs = Date.now() - lostAt;
    expect(waitedMs).toBeGreaterThanOrEqual(55_000);
    expect(restart.url).toBe(`${siteId}/restart?api-version=${webApiVersion}`);
    expect(restart.headers.authorization).toBe('Bearer token-from-the-identity-endpoint');
    const tokenRequest = requests.find((r) => r.url.startsWith('/msi/token'))!;
    expect(tokenRequest.headers['x-identity-header']).toBe('identity-header-secret');
    expect(new URL(tokenRequest.url, endpoint).searchParams.get('resource')).toBe(endpoint);
    expect(shop!.host.output()).toMatch(/consumer watchdog: restarting the function app/);

    // The platform's part: the host restarts, indexes its functions again and consumes.
    await shop!.stop();
    shop = await startShop({ env: env() });
    await expect.poll(() => consumersOf('payment-processed'), { timeout: 30_000 }).toBe(1);
    console.log(`consumer watchdog: restart asked for ${Math.round(waitedMs / 1000)} s after the consumer was lost`);
  });
});
