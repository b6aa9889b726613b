import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { armSiteRestarter, webApiVersion } from '../../src/adapters/azure/siteRestarter.js';

const siteId = '/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg-shop/providers/Microsoft.Web/sites/func-shop';

describe('the Azure Resource Manager site restarter', () => {
  // A local HTTP server standing in for Azure Resource Manager: records each request and answers with `status`.
  let server: Server;
  let endpoint: string;
  let requests: { method: string; url: string; authorization: string | undefined; body: string }[];
  let status: number;

  const read = (request: IncomingMessage) =>
    new Promise<string>((resolve) => {
      let body = '';
      request.on('data', (chunk: Buffer) => (body += chunk.toString()));
      request.on('end', () => resolve(body));
    });

  beforeAll(async () => {
    server = createServer(async (request, response) => {
      requests.push({ method: request.method!, url: request.url!, authorization: request.headers.authorization, body: await read(request) });
      response.writeHead(status, { 'content-type': 'application/json' }).end(status === 200 ? '' : JSON.stringify({ error: { code: 'AuthorizationFailed' } }));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));
  beforeEach(() => {
    requests = [];
    status = 200;
  });

  const scopes: string[] = [];
  const credential = {
    getToken: async (scope: string | string[]) => {
      scopes.push(String(scope));
      return { token: 'token-of-the-identity', expiresOnTimestamp: Date.now() + 3_600_000 };
    },
  };

  it("when asked to restart, then it POSTs the site's restart action with the api-version and the identity's bearer token for the endpoint's scope", async () => {
    await armSiteRestarter({ siteResourceId: siteId, resourceManagerEndpoint: `${endpoint}/`, credential }).restart();
    expect(requests).toEqual([{ method: 'POST', url: `${siteId}/restart?api-version=${webApiVersion}`, authorization: 'Bearer token-of-the-identity', body: '' }]);
    expect(scopes.at(-1)).toBe(`${endpoint}/.default`);
  });

  it('when Resource Manager refuses (no role on the site), then the restart rejects with its status and answer', async () => {
    status = 403;
    await expect(armSiteRestarter({ siteResourceId: siteId, resourceManagerEndpoint: endpoint, credential }).restart()).rejects.toThrow(/answered 403 .*AuthorizationFailed/);
  });

  it('when no token can be had, then nothing is sent and the restart rejects', async () => {
    const noToken = { getToken: async () => null };
    await expect(armSiteRestarter({ siteResourceId: siteId, resourceManagerEndpoint: endpoint, credential: noToken }).restart()).rejects.toThrow(/no Entra token/);
    expect(requests).toEqual([]);
  });
});
