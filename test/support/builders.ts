import { randomUUID } from 'node:crypto';
import { uuidv7 } from '../../src/domain/ids.js';
import type { CartChange, CartLine, CartSnapshot, CartStore } from '../../src/domain/cart.js';
import type { Product, ProductBody, ProductInput, ProductRepository } from '../../src/domain/products.js';

/** A valid POST/PUT /products body; a unique name so tests can find their own products. */
export function aProductBody(overrides: Partial<Record<keyof ProductBody, unknown>> & Record<string, unknown> = {}): ProductBody {
  return { name: `Test product ${randomUUID().slice(0, 8)}`, description: 'Made by a test', price: 19.99, stock: 10, ...overrides } as ProductBody;
}

/** A stored product as the repository returns it. */
export function aProduct(overrides: Partial<Product> = {}): Product {
  const now = new Date('2025-01-01T00:00:00.000Z');
  return { id: uuidv7(), name: 'Mug', description: '', priceCents: 1999, stock: 10, createdAt: now, updatedAt: now, version: 1, ...overrides };
}

/** An in-memory ProductRepository (for unit tests of domain logic; Postgres is used in e2e tests). */
export function inMemoryProducts(initial: Product[] = []): ProductRepository & { all: Map<string, Product> } {
  const all = new Map(initial.map((p) => [p.id, p]));
  return {
    all,
    async list(limit, after) {
      return [...all.values()].filter((p) => after === undefined || p.id > after).sort((a, b) => a.id.localeCompare(b.id)).slice(0, limit);
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
  const change = (userId: string, productId: string, wanted: (current: number) => number): CartChange => {
    const cart = cartOf(userId);
    const current = cart.get(productId) ?? 0;
    if (current === 0 && cart.size >= limits.maxLines) return { ok: false, reason: 'line_limit' };
    const quantity = wanted(current);
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
    async add(userId, productId, quantity) {
      return change(userId, productId, (current) => current + quantity);
    },
    async set(userId, productId, quantity) {
      return change(userId, productId, () => quantity);
    },
    async remove(userId, productId) {
      if (cartOf(userId).delete(productId)) bump(userId);
      return { ok: true, cart: snapshot(userId) };
    },
  };
}
