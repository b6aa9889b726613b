export { createShopClient, ShopApiError, type Cart, type CheckoutResult, type Order, type Page, type Product, type ShopClient, type ShopClientOptions } from './shopClient.js';
export {
  caTrustingNetworkClient,
  deviceCodeTokenProvider,
  devIssuerTokenProvider,
  type DeviceCodeTokenProviderOptions,
  type DevIssuerTokenProviderOptions,
  type TokenProvider,
} from './tokens.js';
