import { z } from 'zod';
import { AppError } from '../errors.js';
import { centsFromNumber, numberFromCents, type Cents } from './money.js';
import { isUuid, uuidv7 } from './ids.js';
import { noReadCache, type ReadCache } from './readCache.js';

export interface Product {
  id: string;
  name: string;
  description: string;
  priceCents: Cents;
  stock: number;
  createdAt: Date;
  updatedAt: Date;
  /** Bumped by every change of the product, stock reserved or released by orders included. */
  version: number;
}

export type ProductInput = Pick<Product, 'name' | 'description' | 'priceCents' | 'stock'>;

/** A replacement of a product: without `stock`, the stock stays as it is (orders may be changing it). */
export type ProductChange = Omit<ProductInput, 'stock'> & { stock?: number };

/** The versions a write may apply to (If-Match); undefined: whichever version is current. */
export type ExpectedVersions = readonly number[] | undefined;

/** What pricing a cart needs of a product: never its stock, which changes with every order. */
export type CatalogEntry = Pick<Product, 'id' | 'name' | 'priceCents'>;

export interface ProductCatalog {
  get(id: string): Promise<CatalogEntry | undefined>;
  getMany(ids: readonly string[]): Promise<Map<string, CatalogEntry>>;
}

export interface ProductRepository {
  /** Products with id greater than `after`, in id (creation) order. */
  list(limit: number, after: string | undefined): Promise<Product[]>;
  get(id: string): Promise<Product | undefined>;
  getMany(ids: readonly string[]): Promise<Map<string, Product>>;
  create(id: string, input: ProductInput): Promise<Product>;
  /** undefined when there is no such product; 'version_mismatch' when its version is not one of `expected`. */
  replace(id: string, change: ProductChange, expected?: ExpectedVersions): Promise<Product | undefined | 'version_mismatch'>;
  /** false when there is no such product; 'version_mismatch' when its version is not one of `expected`. */
  delete(id: string, expected?: ExpectedVersions): Promise<boolean | 'version_mismatch'>;
}

const price = z
  .number()
  .nonnegative()
  .refine((value) => centsFromNumber(value) !== undefined, 'must have at most 2 decimals and be below 10 000 000 000');

// Postgres text cannot hold NUL: without this check such a value would fail the INSERT with a 500.
const text = () => z.string().refine((value) => !value.includes('\u0000'), 'must not contain NUL characters');
const stock = z.int().min(0).max(2_147_483_647);

/** The body of POST /products: unknown fields are rejected. */
export const productBodySchema = z.strictObject({
  name: text().trim().min(1).max(200),
  description: text().max(2000).optional(),
  price,
  stock,
});

/** The body of PUT /products/{id}: `stock` may be left out, and then stays as it is. */
export const productReplaceBodySchema = productBodySchema.extend({
  stock: stock.optional().describe('Left out: the stock stays as it is. Sent: send If-Match too, or stock reserved by orders since the read is overwritten'),
});

export const productSchema = z.object({
  id: z.string(),
  name: z.string(),
  description: z.string(),
  price: z.number(),
  stock: z.int(),
  createdAt: z.iso.datetime(),
  updatedAt: z.iso.datetime(),
  version: z.int().describe('Changes with every change of the product, stock included; the ETag of GET /products/{id} is this number in quotes'),
});

export type ProductBody = z.infer<typeof productBodySchema>;
export type ProductReplaceBody = z.infer<typeof productReplaceBodySchema>;
export type ProductView = z.infer<typeof productSchema>;

export function toProductInput(body: ProductBody): ProductInput {
  return { name: body.name, description: body.description ?? '', priceCents: centsFromNumber(body.price)!, stock: body.stock };
}

export function toProductChange(body: ProductReplaceBody): ProductChange {
  return { name: body.name, description: body.description ?? '', priceCents: centsFromNumber(body.price)!, ...(body.stock === undefined ? {} : { stock: body.stock }) };
}

export function productView(product: Product): ProductView {
  return {
    id: product.id,
    name: product.name,
    description: product.description,
    price: numberFromCents(product.priceCents),
    stock: product.stock,
    createdAt: product.createdAt.toISOString(),
    updatedAt: product.updatedAt.toISOString(),
    version: product.version,
  };
}

/** Opaque keyset cursor: the last id of a page, base64url-encoded. */
export function encodeCursor(lastId: string): string {
  return Buffer.from(lastId, 'utf8').toString('base64url');
}

export function decodeCursor(cursor: string): string {
  const id = Buffer.from(cursor, 'base64url').toString('utf8');
  if (!isUuid(id)) throw new AppError('invalid_request', 'The cursor is not one this API returned');
  return id;
}

export function notFoundProduct(id: string): AppError {
  return new AppError('not_found', `No product with id ${JSON.stringify(id.slice(0, 100))}`);
}

function versionMismatch(id: string): AppError {
  return new AppError('product_version_mismatch', `Product ${id} has changed since the version in If-Match; read it again and reapply the change`);
}

/**
 * Catalog use-cases. Reads go through `cache` (pages and single products as the API shows them);
 * this service's own writes invalidate it at once, other writers through the cache's owner.
 */
export function productService(products: ProductRepository, cache: ReadCache = noReadCache) {
  return {
    async list(limit: number, cursor: string | undefined): Promise<{ items: ProductView[]; nextCursor: string | null }> {
      const after = cursor === undefined ? undefined : decodeCursor(cursor);
      return cache.getOrLoad(`page:${limit}:${after ?? ''}`, async () => {
        const page = await products.list(limit + 1, after);
        const items = page.slice(0, limit);
        return { items: items.map(productView), nextCursor: page.length > limit ? encodeCursor(items.at(-1)!.id) : null };
      });
    },

    async get(id: string): Promise<ProductView> {
      const view = isUuid(id)
        ? await cache.getOrLoad(`product:${id}`, async () => {
            const product = await products.get(id);
            return product ? productView(product) : null;
          })
        : null;
      if (!view) throw notFoundProduct(id);
      return view;
    },

    async create(body: ProductBody): Promise<ProductView> {
      const product = await products.create(uuidv7(), toProductInput(body));
      cache.invalidate();
      return productView(product);
    },

    /** Applies only to one of the `expected` versions when given (If-Match); stock is kept when the body has none. */
    async replace(id: string, body: ProductReplaceBody, expected?: ExpectedVersions): Promise<ProductView> {
      const product = isUuid(id) ? await products.replace(id, toProductChange(body), expected) : undefined;
      cache.invalidate();
      if (product === 'version_mismatch') throw versionMismatch(id);
      if (!product) throw notFoundProduct(id);
      return productView(product);
    },

    async delete(id: string, expected?: ExpectedVersions): Promise<void> {
      const deleted = isUuid(id) && (await products.delete(id, expected));
      cache.invalidate();
      if (deleted === 'version_mismatch') throw versionMismatch(id);
      if (!deleted) throw notFoundProduct(id);
    },
  };
}

export type ProductService = ReturnType<typeof productService>;

/**
 * The catalog as carts price it, read through `cache`. Entries hold no stock, so only catalog
 * changes (added, removed, renamed, re-priced) need to invalidate it, not every order.
 */
export function cachedCatalog(products: ProductRepository, cache: ReadCache): ProductCatalog {
  const entry = (product: Product): CatalogEntry => ({ id: product.id, name: product.name, priceCents: product.priceCents });
  return {
    get: (id) =>
      cache.getOrLoad(`catalog:${id}`, async () => {
        const product = await products.get(id);
        return product && entry(product);
      }),
    getMany: (ids) =>
      cache.getOrLoad(`catalog-set:${[...ids].sort().join(',')}`, async () => {
        const found = await products.getMany(ids);
        return new Map([...found].map(([id, product]) => [id, entry(product)]));
      }),
  };
}
