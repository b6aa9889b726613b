import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startShop, type Shop } from '../support/shop.js';

describe('route order under the Functions host', () => {
  let shop: Shop;
  beforeAll(async () => {
    shop = await startShop();
  });
  afterAll(() => shop?.stop());

  it('when the app registers its HTTP functions, then the catch-all sorts last by name, as the Functions host orders routes by function name', () => {
    const httpFunctions = [...shop.host.output().matchAll(/^\t(\w+): \[[A-Z,]+\] /gm)].map((match) => match[1]!);
    expect(httpFunctions.length).toBeGreaterThan(10);
    const byName = [...httpFunctions].sort();
    expect(byName.at(-1)).toBe('zzRouteNotFound');
  });
});
