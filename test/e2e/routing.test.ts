import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startShop, type Shop } from '../support/shop.js';

describe('route order under the Functions host', () => {
  let shop: Shop;
  beforeAll(async () => {
    shop = await startShop();
  });
  afterAll(() => shop?.stop());

  it('when the app registers its HTTP functions, then the catch-all sorts last by name, as the Functions host orders routes by function name', () => {
    // The local host lists `name: [GET] url`; the real host logs `Mapped function route '...' [GET] to 'name'`, in the order it tries them.
    const listed = /^\t(\w+): \[[A-Z,]+\] |^ +Mapped function route '[^']*' \[[A-Z,]+\] to '(\w+)'/gm;
    const httpFunctions = [...shop.host.output().matchAll(listed)].map((match) => (match[1] ?? match[2])!);
    expect(httpFunctions.length).toBeGreaterThan(10);
    const byName = [...httpFunctions].sort();
    expect(byName.at(-1)).toBe('zzRouteNotFound');
    if (shop.host.command) expect(httpFunctions.at(-1)).toBe('zzRouteNotFound');
  });
});
