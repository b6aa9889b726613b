import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createShopClient, devIssuerTokenProvider } from '../../src/client/index.js';
import { DEV_CLIENT_OBJECT_ID } from '../../src/dev-issuer/index.js';
import { createProduct } from '../support/pipeline.js';
import { startShop, type Shop } from '../support/shop.js';

describe('the MSAL client against the dev issuer and the local host', () => {
  let shop: Shop;
  beforeAll(async () => {
    shop = await startShop();
    // The dev client app is one identity across runs: start it with an empty cart.
    const redis = new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379');
    await redis.del(`cart:{${DEV_CLIENT_OBJECT_ID}}:items`);
    await redis.quit();
  });
  afterAll(() => shop?.stop());

  it('when the client signs in with client credentials through MSAL, then it lists products and adds one to its cart', async () => {
    const productId = await createProduct(shop, { name: 'Client test product', price: 7.25, stock: 3 });
    const client = createShopClient({
      apiBaseUrl: shop.api,
      getToken: devIssuerTokenProvider({ authority: shop.issuer.authority, clientSecret: shop.issuer.devClient.clientSecret, caCert: shop.issuer.caCert }),
    });

    const page = await client.listProducts({ limit: 100 });
    expect(page.items.length).toBeGreaterThan(0);

    const cart = await client.addToCart(productId, 2);
    expect(cart.items).toEqual([{ productId, name: 'Client test product', unitPrice: 7.25, quantity: 2, lineTotal: 14.5 }]);
    expect(cart.total).toBe(14.5);
  });
});
