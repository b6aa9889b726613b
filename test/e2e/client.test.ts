import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createShopClient, devIssuerTokenProvider, ShopApiError } from '../../src/client/index.js';
import { createProduct } from '../support/pipeline.js';
import { startShop, type Shop } from '../support/shop.js';

describe('the MSAL client against the dev issuer and the local host', () => {
  let shop: Shop;
  beforeAll(async () => {
    shop = await startShop();
  });
  afterAll(() => shop?.stop());

  it('when the client signs in with client credentials through MSAL, then it lists products, and the app gets no cart (403 user_token_required)', async () => {
    const productId = await createProduct(shop, { name: 'Client test product', price: 7.25, stock: 3 });
    const client = createShopClient({
      apiBaseUrl: shop.api,
      getToken: devIssuerTokenProvider({ authority: shop.issuer.authority, clientSecret: shop.issuer.devClient.clientSecret, caCert: shop.issuer.caCert }),
    });

    const page = await client.listProducts({ limit: 100 });
    expect(page.items.length).toBeGreaterThan(0);

    const refusal = await client.addToCart(productId, 2).then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(refusal).toBeInstanceOf(ShopApiError);
    expect(refusal).toMatchObject({ status: 403, problem: { code: 'user_token_required' } });
  });
});
