import { z } from 'zod';
import { AppError } from '../errors.js';
import { centsFromNumber, numberFromCents, type Cents } from './money.js';
import { isUuid, uuidv7 } from './ids.js';
import type { ReadCache } from './readCache.js';
import { catalogQueryOf, categorySlugSchema, decodeCatalogCursor, encodeCatalogCursor, type CatalogKey, type CatalogQuery, type ProductQueryParams } from './catalogQuery.js';
import type { CategoryRepository } from './categories.js';
import type { ImageType } from './images.js';

export interface Product {
  id: string;
  name: string;
  description: string;
  priceCents: Cents;
  stock: number;
  /** The category's slug, or null. */
  category: string | null;
  images: ProductImage[];
  createdAt: Date;
  updatedAt: Date;
  /** Bumped by every change of the product, stock reserved or released by orders included. */
  version: number;
}

export interface ProductImage {
  url: string;
  alt: string;
}

export type ProductInput = Pick<Product, 'name' | 'description' | 'priceCents' | 'stock' | 'category' | 'images'>;

/**
 * A replacement of a product: without `stock`, the stock stays as it is (orders may be changing it);
 * without `category` or `images`, so do they.
 */
export type ProductChange = Pick<ProductInput, 'name' | 'description' | 'priceCents'> & Partial<Pick<ProductInput, 'stock' | 'category' | 'images'>>;

/** The versions a write may apply to (If-Match); undefined: whichever version is current. */
export type ExpectedVersions = readonly number[] | undefined;

/** What pricing a cart needs of a product: never its stock, which changes with every order. */
export type CatalogEntry = Pick<Product, 'id' | 'name' | 'priceCents'>;

export interface ProductCatalog {
  get(id: string): Promise<CatalogEntry | undefined>;
  getMany(ids: readonly string[]): Promise<Map<string, CatalogEntry>>;
  /** The product's stock as it is now (never cached); undefined when there is no such product. */
  stockOf(id: string): Promise<number | undefined>;
}

/** A product found by a catalog query, with its text-search rank when the query ranks by relevance. */
export interface FoundProduct {
  product: Product;
  rank?: number;
}

/** The most images one product holds. */
export const maxImagesPerProduct = 20;

export interface ProductRepository {
  /** Up to `limit` products matching `query`, in its order, after `after` when given. */
  search(query: CatalogQuery, after: CatalogKey | undefined, limit: number): Promise<FoundProduct[]>;
  get(id: string): Promise<Product | undefined>;
  stockOf(id: string): Promise<number | undefined>;
  getMany(ids: readonly string[]): Promise<Map<string, Product>>;
  create(id: string, input: ProductInput): Promise<Product>;
  /** undefined when there is no such product; 'version_mismatch' when its version is not one of `expected`. */
  replace(id: string, change: ProductChange, expected?: ExpectedVersions): Promise<Product | undefined | 'version_mismatch'>;
  /** false when there is no such product; 'version_mismatch' when its version is not one of `expected`. */
  delete(id: string, expected?: ExpectedVersions): Promise<boolean | 'version_mismatch'>;
  /** Appends an image; its position, or why not: no such product, or it holds `maxImages` already. */
  addImage(id: string, image: ProductImage, maxImages: number): Promise<number | 'not_found' | 'image_limit'>;
  /** Removes the image at position `index` (0-based); the removed image, or undefined when there is none. */
  removeImage(id: string, index: number): Promise<ProductImage | undefined>;
}

/** Where product images are kept (Azure Blob Storage): each has a URL anyone can GET. */
export interface ImageStore {
  /** Stores the bytes under a new name for the product; answers the image's public URL. */
  save(productId: string, bytes: Buffer, contentType: string, extension: string): Promise<string>;
  /** Deletes an image this store saved (a URL of another origin is left alone); absent is fine. */
  delete(url: string): Promise<void>;
}

const price = z
  .number()
  .nonnegative()
  .refine((value) => centsFromNumber(value) !== undefined, 'must have at most 2 decimals and be below 10 000 000 000');

// Postgres text cannot hold NUL: without this check such a value would fail the INSERT with a 500.
const text = () => z.string().refine((value) => !value.includes('\u0000'), 'must not contain NUL characters');
const stock = z.int().min(0).max(2_147_483_647);

export const imageAltSchema = text().trim().max(300).describe('Alternative text: what the image shows, for screen readers');

const imageSchema = z.strictObject({
  url: z.url({ protocol: /^https?$/ }).max(2000).describe('Where the image is served: an uploaded image\'s url, or another http(s) URL'),
  alt: imageAltSchema.default(''),
});

/** The body of POST /products: unknown fields are rejected. */
export const productBodySchema = z.strictObject({
  name: text().trim().min(1).max(200),
  description: text().max(2000).optional(),
  price,
  stock,
  category: categorySlugSchema.nullable().optional().describe('A category slug (an unknown one is 400 unknown_category), or null'),
  images: z.array(imageSchema).max(maxImagesPerProduct).optional().describe('Images with their alt texts, in display order; POST /products/{id}/images uploads one'),
});

/** The body of PUT /products/{id}: `stock`, `category` and `images` may be left out, and then stay as they are. */
export const productReplaceBodySchema = productBodySchema.extend({
  stock: stock.optional().describe('Left out: the stock stays as it is. Sent: send If-Match too, or stock reserved by orders since the read is overwritten'),
  category: productBodySchema.shape.category.describe('Left out: stays as it is; null: no category'),
  images: productBodySchema.shape.images.describe('Left out: the images stay as they are. Sent: the new list (to reorder, change alt texts or drop images; uploaded images dropped here are deleted)'),
});

export const productSchema = z.object({
  id: z.string(),
  name: z.string(),
  description: z.string(),
  price: z.number(),
  stock: z.int(),
  category: z.string().nullable().describe("The category's slug, or null"),
  images: z.array(z.object({ url: z.string(), alt: z.string() })),
  createdAt: z.iso.datetime(),
  updatedAt: z.iso.datetime(),
  version: z.int().describe('Changes with every change of the product, stock included; the ETag of GET /products/{id} is this number in quotes'),
});

export type ProductBody = z.infer<typeof productBodySchema>;
export type ProductReplaceBody = z.infer<typeof productReplaceBodySchema>;
export type ProductView = z.infer<typeof productSchema>;

export function toProductInput(body: ProductBody): ProductInput {
  return {
    name: body.name,
    description: body.description ?? '',
    priceCents: centsFromNumber(body.price)!,
    stock: body.stock,
    category: body.category ?? null,
    images: (body.images ?? []).map(({ url, alt }) => ({ url, alt })),
  };
}

export function toProductChange(body: ProductReplaceBody): ProductChange {
  return {
    name: body.name,
    description: body.description ?? '',
    priceCents: centsFromNumber(body.price)!,
    ...(body.stock === undefined ? {} : { stock: body.stock }),
    ...(body.category === undefined ? {} : { category: body.category }),
    ...(body.images === undefined ? {} : { images: body.images.map(({ url, alt }) => ({ url, alt })) }),
  };
}

export function productView(product: Product): ProductView {
  return {
    id: product.id,
    name: product.name,
    description: product.description,
    price: numberFromCents(product.priceCents),
    stock: product.stock,
    category: product.category,
    images: product.images.map(({ url, alt }) => ({ url, alt })),
    createdAt: product.createdAt.toISOString(),
    updatedAt: product.updatedAt.toISOString(),
    version: product.version,
  };
}

export function notFoundProduct(id: string): AppError {
  return new AppError('not_found', `No product with id ${JSON.stringify(id.slice(0, 100))}`);
}

function versionMismatch(id: string): AppError {
  return new AppError('product_version_mismatch', `Product ${id} has changed since the version in If-Match; read it again and reapply the change`);
}

/** Where a page of `query` ends: the last product's value of the sort, and its id. */
function keyOf(query: CatalogQuery, last: FoundProduct): CatalogKey {
  const { product } = last;
  switch (query.sort) {
    case 'newest':
      return { sort: 'newest', id: product.id };
    case 'price':
    case '-price':
      return { sort: query.sort, priceCents: product.priceCents, id: product.id };
    case 'name':
      return { sort: 'name', name: product.name, id: product.id };
    case 'relevance':
      return { sort: 'relevance', rank: last.rank ?? 0, id: product.id };
  }
}

export interface ProductServiceDependencies {
  categories: Pick<CategoryRepository, 'exists'>;
  images: ImageStore;
}

/**
 * Catalog use-cases. Reads go through `cache` (pages and single products as the API shows them);
 * this service's own writes invalidate it at once, other writers through the cache's owner.
 */
export function productService(products: ProductRepository, cache: ReadCache, { categories, images }: ProductServiceDependencies) {
  const requireCategory = async (slug: string | null | undefined) => {
    if (slug && !(await categories.exists(slug))) {
      throw new AppError('unknown_category', `No category ${JSON.stringify(slug)}; create it with POST /categories first`);
    }
  };
  // An image the database no longer lists is only storage: failing to delete it must not fail the change.
  const deleteStored = (urls: readonly string[]) => Promise.allSettled(urls.map((url) => images.delete(url)));

  return {
    /** One page of a catalog query; `params.cursor` continues the query that returned it, and only that one. */
    async list(params: ProductQueryParams): Promise<{ items: ProductView[]; nextCursor: string | null }> {
      const query = catalogQueryOf(params);
      const after = params.cursor === undefined ? undefined : decodeCatalogCursor(query, params.cursor);
      return cache.getOrLoad(`page:${params.limit}:${JSON.stringify([query, after ?? null])}`, async () => {
        const found = await products.search(query, after, params.limit + 1);
        const page = found.slice(0, params.limit);
        return { items: page.map(({ product }) => productView(product)), nextCursor: found.length > params.limit ? encodeCatalogCursor(query, keyOf(query, page.at(-1)!)) : null };
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
      await requireCategory(body.category);
      const product = await products.create(uuidv7(), toProductInput(body));
      cache.invalidate();
      return productView(product);
    },

    /** Applies only to one of the `expected` versions when given (If-Match); stock, category and images are kept when the body has none. */
    async replace(id: string, body: ProductReplaceBody, expected?: ExpectedVersions): Promise<ProductView> {
      await requireCategory(body.category);
      const before = body.images !== undefined && isUuid(id) ? await products.get(id) : undefined;
      const product = isUuid(id) ? await products.replace(id, toProductChange(body), expected) : undefined;
      cache.invalidate();
      if (product === 'version_mismatch') throw versionMismatch(id);
      if (!product) throw notFoundProduct(id);
      const kept = new Set(product.images.map((image) => image.url));
      await deleteStored((before?.images ?? []).map((image) => image.url).filter((url) => !kept.has(url)));
      return productView(product);
    },

    async delete(id: string, expected?: ExpectedVersions): Promise<void> {
      const before = isUuid(id) ? await products.get(id) : undefined;
      const deleted = isUuid(id) && (await products.delete(id, expected));
      cache.invalidate();
      if (deleted === 'version_mismatch') throw versionMismatch(id);
      if (!deleted) throw notFoundProduct(id);
      await deleteStored((before?.images ?? []).map((image) => image.url));
    },

    /** Stores an uploaded image (already checked by `sniffImage`) and appends it to the product's images. */
    async addImage(id: string, image: { bytes: Buffer; type: ImageType }, alt: string): Promise<ProductImage> {
      const product = isUuid(id) ? await products.get(id) : undefined;
      if (!product) throw notFoundProduct(id);
      if (product.images.length >= maxImagesPerProduct) throw imageLimit();
      const url = await images.save(id, image.bytes, image.type.contentType, image.type.extension);
      const added = await products.addImage(id, { url, alt }, maxImagesPerProduct);
      cache.invalidate();
      if (typeof added !== 'number') {
        await deleteStored([url]);
        throw added === 'image_limit' ? imageLimit() : notFoundProduct(id);
      }
      return { url, alt };
    },

    /** Removes the image at 0-based position `index` and deletes its stored copy. */
    async removeImage(id: string, index: string): Promise<void> {
      const position = /^\d{1,3}$/.test(index) ? Number(index) : undefined;
      const removed = isUuid(id) && position !== undefined ? await products.removeImage(id, position) : undefined;
      cache.invalidate();
      if (!removed) throw new AppError('not_found', `Product ${JSON.stringify(id.slice(0, 100))} has no image ${JSON.stringify(index.slice(0, 20))}`);
      await deleteStored([removed.url]);
    },
  };
}

function imageLimit(): AppError {
  return new AppError('product_image_limit', `A product holds at most ${maxImagesPerProduct} images; delete one first`);
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
    stockOf: (id) => products.stockOf(id),
  };
}
