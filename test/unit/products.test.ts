import { describe, expect, it } from 'vitest';
import { AppError } from '../../src/errors.js';
import { uuidv7 } from '../../src/domain/ids.js';
import { productQuerySchema } from '../../src/domain/catalogQuery.js';
import { cachedCatalog, productBodySchema, productReplaceBodySchema, productService, productView, toProductInput } from '../../src/domain/products.js';
import { noReadCache, type ReadCache } from '../../src/domain/readCache.js';
import { ReadThroughCache } from '../../src/app/readThroughCache.js';
import { aProduct, aProductBody, inMemoryCategories, inMemoryImages, inMemoryProducts } from '../support/builders.js';

const serviceOf = (repository: ReturnType<typeof inMemoryProducts>, cache: ReadCache = noReadCache) =>
  productService(repository, cache, { categories: inMemoryCategories(repository), images: inMemoryImages() });

/** GET /products query parameters as the route parses them. */
const pageQuery = (limit: number, cursor?: string) => productQuerySchema.parse({ limit: String(limit), ...(cursor === undefined ? {} : { cursor }) });

const issuesOf = (body: unknown) => {
  const result = productBodySchema.safeParse(body);
  return result.success ? [] : result.error.issues.map((issue) => issue.path.join('.') || issue.code);
};

async function expectAppError(work: Promise<unknown>, code: AppError['code']): Promise<void> {
  await expect(work).rejects.toSatisfy((error) => error instanceof AppError && error.code === code);
}

describe('product body validation', () => {
  it('when the body is complete and valid, then it is accepted', () => {
    expect(issuesOf(aProductBody())).toEqual([]);
  });

  it('when the description is left out, then it is accepted and stored as empty', () => {
    const { description: _omitted, ...body } = aProductBody();
    expect(issuesOf(body)).toEqual([]);
    expect(toProductInput(productBodySchema.parse(body)).description).toBe('');
  });

  it.each([
    ['an empty name', { name: '' }, 'name'],
    ['a blank name', { name: '   ' }, 'name'],
    ['a 201-character name', { name: 'n'.repeat(201) }, 'name'],
    ['a name with NUL', { name: 'a\u0000b' }, 'name'],
    ['a description with NUL', { description: '\u0000' }, 'description'],
    ['a 2001-character description', { description: 'd'.repeat(2001) }, 'description'],
    ['a price with 3 decimals', { price: 1.005 }, 'price'],
    ['a negative price', { price: -0.01 }, 'price'],
    ['a price as a string', { price: '19.99' }, 'price'],
    ['a price above NUMERIC(12,2)', { price: 10_000_000_000 }, 'price'],
    ['a fractional stock', { stock: 1.5 }, 'stock'],
    ['a negative stock', { stock: -1 }, 'stock'],
    ['a stock beyond a Postgres integer', { stock: 2 ** 31 }, 'stock'],
    ['a stock as a string', { stock: '3' }, 'stock'],
    ['a name as a number', { name: 42 }, 'name'],
    ['null for the name', { name: null }, 'name'],
  ])('when the body has %s, then %s is rejected', (_case, overrides, field) => {
    expect(issuesOf(aProductBody(overrides))).toContain(field);
  });

  it('when the body has an unknown field, then it is rejected', () => {
    expect(issuesOf(aProductBody({ colour: 'red' }))).toContain('unrecognized_keys');
  });

  it.each(['__proto__', 'constructor', 'prototype'])('when the body carries the key %s, then it is rejected and nothing is polluted', (key) => {
    const body = JSON.parse(`{"name":"x","price":1,"stock":1,"${key}":{"polluted":true}}`) as unknown;
    expect(issuesOf(body)).toContain('unrecognized_keys');
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('when the name has surrounding spaces, then they are trimmed; 200 characters are allowed', () => {
    expect(productBodySchema.parse(aProductBody({ name: '  Mug  ' })).name).toBe('Mug');
    expect(issuesOf(aProductBody({ name: 'n'.repeat(200) }))).toEqual([]);
  });

  it('when the price is 0 or has 1 or 2 decimals, then it is accepted', () => {
    for (const price of [0, 5, 0.5, 19.99, 9999999999.99]) expect(issuesOf(aProductBody({ price }))).toEqual([]);
  });
});

describe('product views', () => {
  it('when a product is shown, then price is a number from cents and dates are ISO strings', () => {
    const product = aProduct({ priceCents: 1999 });
    expect(productView(product)).toEqual({
      id: product.id,
      name: product.name,
      description: product.description,
      price: 19.99,
      stock: product.stock,
      category: null,
      images: [],
      createdAt: '2025-01-01T00:00:00.000Z',
      updatedAt: '2025-01-01T00:00:00.000Z',
      version: 1,
    });
  });
});

describe('product service', () => {
  const productsAt = (count: number) => Array.from({ length: count }, (_, i) => aProduct({ id: uuidv7(Date.UTC(2025, 0, 1) + i), name: `p${i}` }));

  it('when pages are walked with nextCursor, then every product comes once, newest first, and the last page has no cursor', async () => {
    const all = productsAt(7);
    const service = serviceOf(inMemoryProducts(all));
    const seen: string[] = [];
    let cursor: string | undefined;
    let pages = 0;
    do {
      const page = await service.list(pageQuery(3, cursor));
      seen.push(...page.items.map((p) => p.id));
      cursor = page.nextCursor ?? undefined;
      pages++;
    } while (cursor);
    expect(seen).toEqual(all.map((p) => p.id).reverse());
    expect(pages).toBe(3);
  });

  it('when the products fill exactly one page, then nextCursor is null', async () => {
    const service = serviceOf(inMemoryProducts(productsAt(3)));
    expect((await service.list(pageQuery(3))).nextCursor).toBeNull();
  });

  it('when a product is created, then it gets a UUIDv7 id and the price in cents', async () => {
    const repository = inMemoryProducts();
    const created = await serviceOf(repository).create(productBodySchema.parse(aProductBody({ price: 0.07 })));
    expect(created.id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(created.price).toBe(0.07);
    expect(repository.all.get(created.id)!.priceCents).toBe(7);
  });

  it('when an unknown or malformed id is read, replaced or deleted, then each is a 404 without touching the store for the malformed one', async () => {
    const repository = inMemoryProducts();
    const service = serviceOf(repository);
    const body = productBodySchema.parse(aProductBody());
    for (const id of [uuidv7(), 'not-an-id', "' OR 1=1 --"]) {
      await expectAppError(service.get(id), 'not_found');
      await expectAppError(service.replace(id, body), 'not_found');
      await expectAppError(service.delete(id), 'not_found');
    }
    expect(repository.all.size).toBe(0);
  });

  it('when a product is replaced, then every field takes the new value', async () => {
    const existing = aProduct();
    const service = serviceOf(inMemoryProducts([existing]));
    const replaced = await service.replace(existing.id, productBodySchema.parse(aProductBody({ name: 'Cup', price: 3.5, stock: 0, description: undefined })));
    expect(replaced).toMatchObject({ id: existing.id, name: 'Cup', price: 3.5, stock: 0, description: '' });
  });
});

describe('replacing and deleting against a version', () => {
  const setUp = () => {
    const existing = aProduct({ stock: 10, version: 4 });
    const repository = inMemoryProducts([existing]);
    return { existing, repository, service: serviceOf(repository) };
  };
  const priceOnly = (price: number) => productReplaceBodySchema.parse({ name: 'Mug', price });

  it('when the PUT body has no stock, then it is valid and the stock stays as orders left it', async () => {
    const { existing, repository, service } = setUp();
    repository.all.set(existing.id, { ...existing, stock: 7, version: 5 });
    const replaced = await service.replace(existing.id, priceOnly(3.5));
    expect(replaced).toMatchObject({ price: 3.5, stock: 7, version: 6 });
  });

  it('when the PUT body has an unknown field or a bad stock, then it is rejected like the POST body', () => {
    expect(productReplaceBodySchema.safeParse({ name: 'Mug', price: 1, colour: 'red' }).success).toBe(false);
    expect(productReplaceBodySchema.safeParse({ name: 'Mug', price: 1, stock: -1 }).success).toBe(false);
  });

  it('when the expected version is current, then the change applies and the version moves on', async () => {
    const { existing, service } = setUp();
    expect(await service.replace(existing.id, priceOnly(2), [existing.version])).toMatchObject({ price: 2, version: existing.version + 1 });
  });

  it('when the product changed after the version expected, then replace and delete are product_version_mismatch and change nothing', async () => {
    const { existing, repository, service } = setUp();
    await expectAppError(service.replace(existing.id, productReplaceBodySchema.parse({ name: 'Mug', price: 2, stock: 10 }), [existing.version - 1]), 'product_version_mismatch');
    await expectAppError(service.delete(existing.id, [existing.version - 1]), 'product_version_mismatch');
    expect(repository.all.get(existing.id)).toEqual(existing);
  });

  it('when no version is expected, then delete applies whatever the version, and an unknown product stays a 404 even with one', async () => {
    const { existing, service } = setUp();
    await expectAppError(service.delete(uuidv7(), [1]), 'not_found');
    await service.delete(existing.id);
    await expectAppError(service.get(existing.id), 'not_found');
  });
});

describe('product service with a read cache', () => {
  const cachedService = (repository = inMemoryProducts([aProduct({ id: uuidv7(Date.UTC(2025, 0, 1)), name: 'Mug' })])) => {
    const cache = new ReadThroughCache({ maxAgeMs: 60_000, maxEntries: 100 });
    cache.setEnabled(true);
    return { repository, cache, service: serviceOf(repository, cache) };
  };

  it('when a page is read twice, then the store is asked once', async () => {
    const { repository, service } = cachedService();
    let lists = 0;
    const search = repository.search.bind(repository);
    repository.search = (...args) => (lists++, search(...args));
    expect(await service.list(pageQuery(20))).toEqual(await service.list(pageQuery(20)));
    expect(lists).toBe(1);
  });

  it('when the service itself creates, replaces or deletes a product, then the next reads show it at once', async () => {
    const { service, repository } = cachedService();
    const [mug] = repository.all.values();
    expect((await service.list(pageQuery(20))).items).toHaveLength(1);
    const created = await service.create(productBodySchema.parse(aProductBody({ name: 'Cup' })));
    expect((await service.list(pageQuery(20))).items.map((p) => p.name)).toEqual(['Cup', 'Mug']);
    expect((await service.get(mug!.id)).name).toBe('Mug');
    await service.replace(mug!.id, productBodySchema.parse(aProductBody({ name: 'Big mug' })));
    expect((await service.get(mug!.id)).name).toBe('Big mug');
    await service.delete(created.id);
    await expectAppError(service.get(created.id), 'not_found');
    expect((await service.list(pageQuery(20))).items.map((p) => p.name)).toEqual(['Big mug']);
  });

  it('when someone else changes the store, then reads show it once the cache is invalidated', async () => {
    const { service, repository, cache } = cachedService();
    const [mug] = repository.all.values();
    expect((await service.get(mug!.id)).stock).toBe(mug!.stock);
    repository.all.set(mug!.id, { ...mug!, stock: 0 });
    expect((await service.get(mug!.id)).stock).toBe(mug!.stock);
    cache.invalidate();
    expect((await service.get(mug!.id)).stock).toBe(0);
  });
});

describe('catalog for cart pricing', () => {
  it('when a product is priced twice, then the store is asked once and the entry carries no stock', async () => {
    const mug = aProduct({ name: 'Mug', priceCents: 450 });
    const repository = inMemoryProducts([mug]);
    let reads = 0;
    const get = repository.get.bind(repository);
    repository.get = (id) => (reads++, get(id));
    const cache = new ReadThroughCache({ maxAgeMs: 60_000, maxEntries: 100 });
    cache.setEnabled(true);
    const catalog = cachedCatalog(repository, cache);
    expect(await catalog.get(mug.id)).toEqual({ id: mug.id, name: 'Mug', priceCents: 450 });
    await catalog.get(mug.id);
    expect(reads).toBe(1);
    expect([...(await catalog.getMany([mug.id, uuidv7()])).values()]).toEqual([{ id: mug.id, name: 'Mug', priceCents: 450 }]);
    // One product read alone and as a one-line cart: two different cache entries.
    expect((await catalog.getMany([mug.id])).get(mug.id)?.name).toBe('Mug');
  });

  it('when the catalog changes and the cache is invalidated, then the new price is used', async () => {
    const mug = aProduct({ priceCents: 450 });
    const repository = inMemoryProducts([mug]);
    const cache = new ReadThroughCache({ maxAgeMs: 60_000, maxEntries: 100 });
    cache.setEnabled(true);
    const catalog = cachedCatalog(repository, cache);
    await catalog.getMany([mug.id]);
    repository.all.set(mug.id, { ...mug, priceCents: 500 });
    cache.invalidate();
    expect((await catalog.getMany([mug.id])).get(mug.id)?.priceCents).toBe(500);
  });
});
