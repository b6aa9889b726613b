import { randomUUID } from 'node:crypto';
import { uuidv7 } from '../../src/domain/ids.js';
import type { CartChange, CartLine, CartSnapshot, CartStore } from '../../src/domain/cart.js';
import type { CatalogQuery } from '../../src/domain/catalogQuery.js';
import type { CategoryRepository } from '../../src/domain/categories.js';
import type { FoundProduct, ImageStore, Product, ProductBody, ProductInput, ProductRepository } from '../../src/domain/products.js';

/** A valid POST/PUT /products body; a unique name so tests can find their own products. */
export function aProductBody(overrides: Partial<Record<keyof ProductBody, unknown>> & Record<string, unknown> = {}): ProductBody {
  return { name: `Test product ${randomUUID().slice(0, 8)}`, description: 'Made by a test', price: 19.99, stock: 10, ...overrides } as ProductBody;
}

/** A stored product as the repository returns it. */
export function aProduct(overrides: Partial<Product> = {}): Product {
  const now = new Date('2025-01-01T00:00:00.000Z');
  return { id: uuidv7(), name: 'Mug', description: '', priceCents: 1999, stock: 10, category: null, images: [], createdAt: now, updatedAt: now, version: 1, ...overrides };
}

/** An in-memory ProductRepository (for unit tests of domain logic; Postgres is used in e2e tests). */
export function inMemoryProducts(initial: Product[] = []): ProductRepository & { all: Map<string, Product> } {
  const all = new Map(initial.map((p) => [p.id, p]));
  return {
    all,
    // The same filters and orders as the SQL, with a word match standing in for full-text search (rank: matching words).
    async search(query, after, limit) {
      const words = query.text?.toLowerCase().split(/\s+/) ?? [];
      const rankOf = (p: Product) => words.filter((word) => `${p.name} ${p.description}`.toLowerCase().includes(word)).length;
      const [sortKey, direction] = sortOf(query);
      const found: FoundProduct[] = [...all.values()]
        .filter((p) => (query.text === undefined || rankOf(p) > 0) && (query.category === undefined || p.category === query.category))
        .filter((p) => (query.minPriceCents === undefined || p.priceCents >= query.minPriceCents) && (query.maxPriceCents === undefined || p.priceCents <= query.maxPriceCents))
        .map((product) => (query.sort === 'relevance' && query.text !== undefined ? { product, rank: rankOf(product) } : { product }));
      const keyOf = (f: FoundProduct): [number | string, string] => [sortKey(f), f.product.id];
      const compare = (a: [number | string, string], b: [number | string, string]) => direction * (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : a[1].localeCompare(b[1]));
      const afterKey: [number | string, string] | undefined =
        after === undefined ? undefined : [after.sort === 'newest' ? 0 : after.sort === 'name' ? after.name : after.sort === 'relevance' ? after.rank : after.priceCents, after.id];
      return found
        .sort((a, b) => compare(keyOf(a), keyOf(b)))
        .filter((f) => afterKey === undefined || compare(keyOf(f), afterKey) > 0)
        .slice(0, limit);
    },
    async stockOf(id) {
      return all.get(id)?.stock;
    },
    async get(id) {
      return all.get(id);
    },
    async getMany(ids) {
      return new Map(ids.flatMap((id) => (all.has(id) ? [[id, all.get(id)!] as const] : [])));
    },
    async create(id, input: ProductInput) {
      const product = aProduct({ id, ...input });
      all.set(id, product);
      return product;
    },
    async replace(id, change, expected) {
      const existing = all.get(id);
      if (!existing) return undefined;
      if (expected && !expected.includes(existing.version)) return 'version_mismatch';
      const product = { ...existing, ...change, updatedAt: new Date(), version: existing.version + 1 };
      all.set(id, product);
      return product;
    },
    async delete(id, expected) {
      const existing = all.get(id);
      if (existing && expected && !expected.includes(existing.version)) return 'version_mismatch';
      return all.delete(id);
    },
    async addImage(id, image, maxImages) {
      const existing = all.get(id);
      if (!existing) return 'not_found';
      if (existing.images.length >= maxImages) return 'image_limit';
      all.set(id, { ...existing, images: [...existing.images, image], version: existing.version + 1 });
      return existing.images.length;
    },
    async removeImage(id, index) {
      const existing = all.get(id);
      const removed = existing?.images[index];
      if (!existing || !removed) return undefined;
      all.set(id, { ...existing, images: existing.images.filter((_, i) => i !== index), version: existing.version + 1 });
      return removed;
    },
  };
}

/** The sort value of a found product, and the direction (1 ascending, -1 descending), as the SQL orders. */
function sortOf(query: CatalogQuery): [(found: FoundProduct) => number | string, 1 | -1] {
  switch (query.sort) {
    case 'newest':
      return [() => 0, -1];
    case 'price':
      return [(f) => f.product.priceCents, 1];
    case '-price':
      return [(f) => f.product.priceCents, -1];
    case 'name':
      return [(f) => f.product.name, 1];
    case 'relevance':
      return query.text === undefined ? [() => 0, -1] : [(f) => f.rank ?? 0, -1];
  }
}

/** An in-memory ImageStore: URLs under https://images.test/, saved bytes kept. */
export function inMemoryImages(): ImageStore & { saved: Map<string, Buffer> } {
  const saved = new Map<string, Buffer>();
  return {
    saved,
    async save(productId, bytes, _contentType, extension) {
      const url = `https://images.test/products/${productId}/${uuidv7()}.${extension}`;
      saved.set(url, bytes);
      return url;
    },
    async delete(url) {
      saved.delete(url);
    },
  };
}

/** An in-memory CategoryRepository counting the products of `products`. */
export function inMemoryCategories(products: { all: Map<string, Product> }): CategoryRepository {
  const names = new Map<string, string>();
  const count = (slug: string) => [...products.all.values()].filter((p) => p.category === slug).length;
  return {
    async list() {
      return [...names].map(([slug, name]) => ({ slug, name, productCount: count(slug) })).sort((a, b) => a.name.localeCompare(b.name));
    },
    async create(slug, name) {
      if (names.has(slug)) return 'exists';
      names.set(slug, name);
      return { slug, name, productCount: 0 };
    },
    async exists(slug) {
      return names.has(slug);
    },
  };
}

/** An in-memory CartStore with the same limits as the Redis one. */
export function inMemoryCarts(limits: { maxQuantity: number; maxLines: number }): CartStore & { carts: Map<string, Map<string, number>> } {
  const carts = new Map<string, Map<string, number>>();
  const versions = new Map<string, number>();
  const cartOf = (userId: string) => carts.get(userId) ?? carts.set(userId, new Map()).get(userId)!;
  const bump = (userId: string) => versions.set(userId, (versions.get(userId) ?? 0) + 1);
  const snapshot = (userId: string): CartSnapshot => ({
    lines: [...cartOf(userId)].map(([productId, quantity]): CartLine => ({ productId, quantity })),
    version: versions.get(userId) ?? 0,
  });
  const change = (userId: string, productId: string, stock: number, wanted: (current: number) => number): CartChange => {
    const cart = cartOf(userId);
    const current = cart.get(productId) ?? 0;
    if (current === 0 && cart.size >= limits.maxLines) return { ok: false, reason: 'line_limit' };
    const quantity = wanted(current);
    if (quantity > stock) return { ok: false, reason: 'insufficient_stock', available: stock };
    if (quantity > limits.maxQuantity) return { ok: false, reason: 'quantity_limit', current };
    cart.set(productId, quantity);
    bump(userId);
    return { ok: true, cart: snapshot(userId) };
  };
  return {
    carts,
    async read(userId) {
      return snapshot(userId);
    },
    async add(userId, productId, quantity, stock) {
      return change(userId, productId, stock, (current) => current + quantity);
    },
    async set(userId, productId, quantity, stock) {
      return change(userId, productId, stock, () => quantity);
    },
    async remove(userId, productId) {
      if (cartOf(userId).delete(productId)) bump(userId);
      return { ok: true, cart: snapshot(userId) };
    },
  };
}
