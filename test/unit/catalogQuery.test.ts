import { describe, expect, it } from 'vitest';
import { catalogStatement } from '../../src/adapters/postgres/productRepository.js';
import { catalogQueryOf, decodeCatalogCursor, encodeCatalogCursor, productQuerySchema, type CatalogKey, type CatalogQuery } from '../../src/domain/catalogQuery.js';
import { uuidv7 } from '../../src/domain/ids.js';
import { productService } from '../../src/domain/products.js';
import { noReadCache } from '../../src/domain/readCache.js';
import { aProduct, inMemoryCategories, inMemoryImages, inMemoryProducts } from '../support/builders.js';

const parse = (params: Record<string, string>) => productQuerySchema.safeParse(params);
const issuesOf = (params: Record<string, string>) => {
  const result = parse(params);
  return result.success ? [] : result.error.issues.map((issue) => issue.path.join('.'));
};

describe('GET /products query parameters', () => {
  it('when nothing is given, then the first 20 newest products are asked for', () => {
    const params = productQuerySchema.parse({});
    expect(params.limit).toBe(20);
    expect(catalogQueryOf(params)).toEqual({ sort: 'newest' });
  });

  it('when q is given without a sort, then the sort is relevance; with blanks only, q is left out', () => {
    expect(catalogQueryOf(productQuerySchema.parse({ q: '  grinder ' }))).toEqual({ text: 'grinder', sort: 'relevance' });
    expect(catalogQueryOf(productQuerySchema.parse({ q: '   ' }))).toEqual({ sort: 'newest' });
  });

  it('when relevance is asked for with no words to rank by, then products come newest first', () => {
    expect(catalogQueryOf(productQuerySchema.parse({ sort: 'relevance' })).sort).toBe('newest');
  });

  it.each(['newest', 'price', '-price', 'name', 'relevance'])('when sort is %s, then it is accepted', (sort) => {
    expect(issuesOf({ sort })).toEqual([]);
  });

  it.each(['cheapest', 'PRICE', '+price', 'price,name', ''])('when sort is %j, then it is refused', (sort) => {
    expect(issuesOf({ sort })).toEqual(['sort']);
  });

  it('when prices are plain decimals, then they become cents, bounds included', () => {
    expect(catalogQueryOf(productQuerySchema.parse({ minPrice: '0', maxPrice: '24.9' }))).toMatchObject({ minPriceCents: 0, maxPriceCents: 2490 });
    expect(catalogQueryOf(productQuerySchema.parse({ minPrice: '5', maxPrice: '5.00' }))).toMatchObject({ minPriceCents: 500, maxPriceCents: 500 });
  });

  it.each(['-1', 'abc', '1.999', '1e3', '0x10', ' 5', '', 'NaN', 'Infinity', '99999999999'])('when minPrice is %j, then it is refused', (minPrice) => {
    expect(issuesOf({ minPrice })).toEqual(['minPrice']);
  });

  it('when minPrice is above maxPrice, then the query is refused', () => {
    expect(issuesOf({ minPrice: '10', maxPrice: '9.99' })).toEqual(['minPrice']);
  });

  it.each(['Coffee', 'coffee beans', 'coffee--beans', '-coffee', 'café', 'a'.repeat(61)])('when category is %j, then it is refused', (category) => {
    expect(issuesOf({ category })).toEqual(['category']);
  });

  it('when q is too long or holds NUL, then it is refused', () => {
    expect(issuesOf({ q: 'x'.repeat(201) })).toEqual(['q']);
    expect(issuesOf({ q: 'a\u0000b' })).toEqual(['q']);
  });
});

describe('catalog cursors', () => {
  const id = uuidv7();
  const query: CatalogQuery = { text: 'mug', category: 'kitchen', sort: 'price', minPriceCents: 100 };
  const key: CatalogKey = { sort: 'price', priceCents: 1999, id };

  it('when a cursor is made, then it is opaque and continues its own query from the same place', () => {
    const cursor = encodeCatalogCursor(query, key);
    expect(cursor).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(cursor).not.toContain(id);
    expect(decodeCatalogCursor({ ...query }, cursor)).toEqual(key);
  });

  it.each([
    ['other words', { ...query, text: 'cup' }],
    ['another category', { ...query, category: 'garden' }],
    ['another sort', { ...query, sort: '-price' as const }],
    ['another price bound', { ...query, minPriceCents: 101 }],
    ['no price bound', { text: 'mug', category: 'kitchen', sort: 'price' as const }],
  ])('when a cursor is used with %s, then it is refused', (_case, other) => {
    expect(() => decodeCatalogCursor(other, encodeCatalogCursor(query, key))).toThrow(expect.objectContaining({ code: 'invalid_request', status: 400 }));
  });

  const forged = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
  it.each([
    ['garbage', 'garbage'],
    ['an id alone (the old cursor)', Buffer.from(id).toString('base64url')],
    ['an injected id', forged({ f: 'x', k: [1999, "1' OR '1'='1"] })],
    ['a price that is not a whole number of cents', forged({ f: 'x', k: [19.5, id] })],
    ['%%%%', '%%%%'],
  ])('when the cursor is %s, then it is refused', (_case, cursor) => {
    expect(() => decodeCatalogCursor(query, cursor)).toThrow(expect.objectContaining({ code: 'invalid_request' }));
  });

  it('when a cursor has the right fingerprint but a key of the wrong shape, then it is refused', () => {
    const real = JSON.parse(Buffer.from(encodeCatalogCursor(query, key), 'base64url').toString()) as { f: string };
    expect(() => decodeCatalogCursor(query, forged({ f: real.f, k: ['cheap', id] }))).toThrow(expect.objectContaining({ code: 'invalid_request' }));
    expect(() => decodeCatalogCursor(query, forged({ f: real.f, k: [1999, 'not-an-id'] }))).toThrow(expect.objectContaining({ code: 'invalid_request' }));
  });
});

describe('catalog SQL', () => {
  it('when every filter and a cursor are given, then the statement carries every value as a parameter and orders by the sort and id', () => {
    const id = uuidv7();
    const { text, values } = catalogStatement({ text: "x'); DROP TABLE products; --", category: 'mugs', sort: '-price', minPriceCents: 100, maxPriceCents: 5000 }, { sort: '-price', priceCents: 2000, id }, 21);
    expect(text).not.toContain('DROP');
    expect(text).toMatch(/ORDER BY products\.price DESC, id DESC LIMIT \$\d+::int$/);
    expect(values).toEqual(["x'); DROP TABLE products; --", 'mugs', '1.00', '50.00', '20.00', id, 21]);
  });

  it('when the query ranks by relevance, then the rank orders it and continues it', () => {
    const { text } = catalogStatement({ text: 'mug', sort: 'relevance' }, { sort: 'relevance', rank: 0.5, id: uuidv7() }, 5);
    expect(text).toContain("websearch_to_tsquery('english', $1)");
    expect(text).toMatch(/\(ts_rank\(search, query\), id\) < \(\$2::real, \$3::uuid\)/);
    expect(text).toMatch(/ORDER BY ts_rank\(search, query\) DESC, id DESC/);
  });
});

describe('catalog pages', () => {
  const at = (i: number, overrides: Parameters<typeof aProduct>[0]) => aProduct({ id: uuidv7(Date.UTC(2025, 0, 1) + i), ...overrides });
  const products = [
    at(0, { name: 'Mug', priceCents: 1200, category: 'kitchen' }),
    at(1, { name: 'Cup', priceCents: 800, category: 'kitchen' }),
    at(2, { name: 'Bowl', priceCents: 1200, category: 'kitchen' }),
    at(3, { name: 'Spade', priceCents: 2500, category: 'garden' }),
    at(4, { name: 'Apron', priceCents: 1200, category: 'kitchen' }),
  ];
  const service = () => {
    const repository = inMemoryProducts(products);
    return productService(repository, noReadCache, { categories: inMemoryCategories(repository), images: inMemoryImages() });
  };
  const walk = async (params: Record<string, string>) => {
    const names: string[] = [];
    let cursor: string | undefined;
    do {
      const page = await service().list(productQuerySchema.parse({ ...params, limit: '2', ...(cursor ? { cursor } : {}) }));
      names.push(...page.items.map((p) => p.name));
      cursor = page.nextCursor ?? undefined;
    } while (cursor);
    return names;
  };

  it('when a category is walked by price, then equal prices keep one order across pages and nothing repeats', async () => {
    expect(await walk({ category: 'kitchen', sort: 'price' })).toEqual(['Cup', 'Mug', 'Bowl', 'Apron']);
    expect(await walk({ category: 'kitchen', sort: '-price' })).toEqual(['Apron', 'Bowl', 'Mug', 'Cup']);
  });

  it('when prices are bounded, then both bounds are inclusive', async () => {
    expect(await walk({ minPrice: '8', maxPrice: '12', sort: 'name' })).toEqual(['Apron', 'Bowl', 'Cup', 'Mug']);
  });

  it('when a cursor of one query is sent with another, then it is refused', async () => {
    const page = await service().list(productQuerySchema.parse({ category: 'kitchen', limit: '1' }));
    await expect(service().list(productQuerySchema.parse({ category: 'garden', limit: '1', cursor: page.nextCursor! }))).rejects.toMatchObject({ code: 'invalid_request' });
  });
});
