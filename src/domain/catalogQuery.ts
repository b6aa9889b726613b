import { createHash } from 'node:crypto';
import { z } from 'zod';
import { AppError } from '../errors.js';
import { isUuid } from './ids.js';
import { centsFromDecimal, maxCents, type Cents } from './money.js';

export const productSorts = ['relevance', 'newest', 'price', '-price', 'name'] as const;
export type ProductSort = (typeof productSorts)[number];

/** A category's key: lower-case letters and digits in hyphen-separated words. */
export const categorySlugSchema = z
  .string()
  .max(60)
  .regex(/^[a-z0-9]+(-[a-z0-9]+)*$/, 'must be lower-case letters, digits and single hyphens (e.g. "coffee-beans")');

// A query price: a plain decimal with at most 2 places, so "1e3", "0x10" and "-1" are refused.
const priceParam = z
  .string()
  .regex(/^\d{1,10}(\.\d{1,2})?$/, 'must be a number >= 0 with at most 2 decimals')
  .transform((text) => centsFromDecimal(text))
  .refine((cents) => cents <= maxCents, 'is above the largest price');

/** `GET /products` query: paging, search, category, sort and an inclusive price range. */
export const productQuerySchema = z
  .object({
    limit: z.coerce.number().int().min(1).max(100).default(20),
    cursor: z.string().min(1).max(500).optional(),
    q: z
      .string()
      .max(200)
      .refine((value) => !value.includes('\u0000'), 'must not contain NUL characters')
      .transform((value) => value.trim() || undefined)
      .optional()
      .describe('Words searched in names and descriptions (English stemming: "grinders" finds "grinder"); "quoted phrases", `or` and `-word` work as in a web search'),
    category: categorySlugSchema.optional().describe('Only products in this category (a slug)'),
    sort: z
      .enum(productSorts)
      .optional()
      .describe('relevance (best match first; the default with q, newest without q), newest (the default without q), price (low to high), -price (high to low), name'),
    minPrice: priceParam.optional().describe('Inclusive lower price bound'),
    maxPrice: priceParam.optional().describe('Inclusive upper price bound'),
  })
  .refine((query) => query.minPrice === undefined || query.maxPrice === undefined || query.minPrice <= query.maxPrice, {
    message: 'must not be above maxPrice',
    path: ['minPrice'],
  });

export type ProductQueryParams = z.infer<typeof productQuerySchema>;

/** A catalog query as the repository runs it: the sort resolved, prices in cents. */
export interface CatalogQuery {
  text?: string;
  category?: string;
  sort: Exclude<ProductSort, 'relevance'> | 'relevance';
  minPriceCents?: Cents;
  maxPriceCents?: Cents;
}

/** Where a page ends in its query's order: the last row's sort value and id (ties are broken by id). */
export type CatalogKey =
  | { sort: 'newest'; id: string }
  | { sort: 'price' | '-price'; priceCents: Cents; id: string }
  | { sort: 'name'; name: string; id: string }
  | { sort: 'relevance'; rank: number; id: string };

/** The query the parameters ask for; `relevance` without words to rank by falls back to `newest`. */
export function catalogQueryOf(params: Omit<ProductQueryParams, 'limit' | 'cursor'>): CatalogQuery {
  const sort = params.sort ?? (params.q ? 'relevance' : 'newest');
  return {
    ...(params.q === undefined ? {} : { text: params.q }),
    ...(params.category === undefined ? {} : { category: params.category }),
    sort: sort === 'relevance' && params.q === undefined ? 'newest' : sort,
    ...(params.minPrice === undefined ? {} : { minPriceCents: params.minPrice }),
    ...(params.maxPrice === undefined ? {} : { maxPriceCents: params.maxPrice }),
  };
}

/** A stable digest of a query, so a cursor is accepted only by the query that made it. */
function fingerprint(query: CatalogQuery): string {
  const canonical = JSON.stringify([query.text ?? null, query.category ?? null, query.sort, query.minPriceCents ?? null, query.maxPriceCents ?? null]);
  return createHash('sha256').update(canonical).digest('base64url').slice(0, 16);
}

const keyValues = (key: CatalogKey): unknown[] => {
  switch (key.sort) {
    case 'newest':
      return [key.id];
    case 'price':
    case '-price':
      return [key.priceCents, key.id];
    case 'name':
      return [key.name, key.id];
    case 'relevance':
      return [key.rank, key.id];
  }
};

/** Opaque cursor: the query's fingerprint and where its page ended, as base64url JSON. */
export function encodeCatalogCursor(query: CatalogQuery, key: CatalogKey): string {
  return Buffer.from(JSON.stringify({ f: fingerprint(query), k: keyValues(key) }), 'utf8').toString('base64url');
}

const foreignCursor = () => new AppError('invalid_request', 'The cursor is not one this API returned for this query', { extensions: { errors: [{ path: 'query.cursor', message: 'is not a cursor of this query' }] } });

const cursorSchema = z.strictObject({ f: z.string(), k: z.array(z.unknown()).min(1).max(2) });
const idSchema = z.string().refine(isUuid);

/** The key a cursor continues from; 400 for anything this API did not return for this very query. */
export function decodeCatalogCursor(query: CatalogQuery, cursor: string): CatalogKey {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    throw foreignCursor();
  }
  const envelope = cursorSchema.safeParse(parsed);
  if (!envelope.success || envelope.data.f !== fingerprint(query)) throw foreignCursor();
  const [first, second] = envelope.data.k;
  const key = ((): CatalogKey | undefined => {
    switch (query.sort) {
      case 'newest':
        return idSchema.safeParse(first).success && second === undefined ? { sort: 'newest', id: first as string } : undefined;
      case 'price':
      case '-price':
        return Number.isSafeInteger(first) && (first as number) >= 0 && idSchema.safeParse(second).success
          ? { sort: query.sort, priceCents: first as number, id: second as string }
          : undefined;
      case 'name':
        return typeof first === 'string' && first.length <= 200 && !first.includes('\u0000') && idSchema.safeParse(second).success
          ? { sort: 'name', name: first, id: second as string }
          : undefined;
      case 'relevance':
        return typeof first === 'number' && Number.isFinite(first) && idSchema.safeParse(second).success ? { sort: 'relevance', rank: first, id: second as string } : undefined;
    }
  })();
  if (!key) throw foreignCursor();
  return key;
}
