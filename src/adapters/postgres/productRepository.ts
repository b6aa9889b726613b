import type pg from 'pg';
import { centsFromDecimal, decimalFromCents } from '../../domain/money.js';
import type { CatalogKey, CatalogQuery } from '../../domain/catalogQuery.js';
import type { ExpectedVersions, FoundProduct, Product, ProductImage, ProductInput, ProductRepository } from '../../domain/products.js';
import { CoalescedLookup } from './coalesced.js';
import { query } from './pool.js';

interface ProductRow {
  id: string;
  name: string;
  description: string;
  price: string;
  stock: number;
  category: string | null;
  images: ProductImage[];
  created_at: Date;
  updated_at: Date;
  version: string;
}

const columns = 'id, name, description, price::text AS price, stock, category, images, created_at, updated_at, version';

function toProduct(row: ProductRow): Product {
  return {
    id: row.id,
    name: row.name,
    description: row.description,
    priceCents: centsFromDecimal(row.price),
    stock: row.stock,
    category: row.category,
    images: row.images,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    // bigint arrives as text; a version stays far below 2^53.
    version: Number(row.version),
  };
}

/** `$n` is NULL (any version) or the versions the write may apply to. */
const versionMatches = (n: number) => `($${n}::bigint[] IS NULL OR version = ANY($${n}::bigint[]))`;
const expectedParam = (expected: ExpectedVersions) => (expected === undefined ? null : [...expected]);

/**
 * The SQL of a catalog query: filters, then the keyset condition and order of its sort (each has an
 * index; see migrations/). Only the shape varies with the query; every value is a parameter.
 */
export function catalogStatement(query: CatalogQuery, after: CatalogKey | undefined, limit: number): { text: string; values: unknown[] } {
  const values: unknown[] = [];
  const param = (value: unknown, cast = '') => `$${values.push(value)}${cast}`;
  const where: string[] = [];
  let from = 'products';
  let rank = '';
  if (query.text !== undefined) {
    // websearch_to_tsquery never fails on user input: quotes, `or` and `-word` mean what they do on the web.
    from = `products, websearch_to_tsquery('english', ${param(query.text)}) AS query`;
    where.push('search @@ query');
    rank = 'ts_rank(search, query)';
  }
  if (query.category !== undefined) where.push(`category = ${param(query.category)}`);
  if (query.minPriceCents !== undefined) where.push(`price >= ${param(decimalFromCents(query.minPriceCents), '::numeric')}`);
  if (query.maxPriceCents !== undefined) where.push(`price <= ${param(decimalFromCents(query.maxPriceCents), '::numeric')}`);
  let order: string;
  switch (query.sort) {
    case 'newest':
      order = 'id DESC';
      if (after?.sort === 'newest') where.push(`id < ${param(after.id, '::uuid')}`);
      break;
    // products.price: a bare `price` in ORDER BY would be the output column, the price as text.
    case 'price':
      order = 'products.price, id';
      if (after?.sort === 'price') where.push(`(price, id) > (${param(decimalFromCents(after.priceCents), '::numeric')}, ${param(after.id, '::uuid')})`);
      break;
    case '-price':
      order = 'products.price DESC, id DESC';
      if (after?.sort === '-price') where.push(`(price, id) < (${param(decimalFromCents(after.priceCents), '::numeric')}, ${param(after.id, '::uuid')})`);
      break;
    case 'name':
      order = 'name, id';
      if (after?.sort === 'name') where.push(`(name, id) > (${param(after.name)}, ${param(after.id, '::uuid')})`);
      break;
    case 'relevance':
      // A rank is a float4; the cursor carries it as the shortest text that reads back to the same value.
      order = rank ? `${rank} DESC, id DESC` : 'id DESC';
      if (after?.sort === 'relevance' && rank) where.push(`(${rank}, id) < (${param(after.rank, '::real')}, ${param(after.id, '::uuid')})`);
      break;
  }
  const select = `SELECT ${columns}${rank ? `, ${rank} AS rank` : ''} FROM ${from}`;
  return { text: `${select}${where.length ? ` WHERE ${where.join(' AND ')}` : ''} ORDER BY ${order} LIMIT ${param(limit, '::int')}`, values };
}

export function postgresProductRepository(pool: pg.Pool): ProductRepository {
  const exists = async (id: string) => (await query(pool, 'SELECT 1 FROM products WHERE id = $1', [id])).rowCount === 1;
  // Every add to a cart reads its product's stock: under load, one statement answers all waiting reads.
  const stockLookup = new CoalescedLookup<string, number>(async (ids) => {
    const { rows } = await query<{ id: string; stock: number }>(pool, 'SELECT id, stock FROM products WHERE id = ANY($1::uuid[])', [[...new Set(ids)]]);
    return new Map(rows.map((row) => [row.id, row.stock]));
    // Postgres answers a uuid in lower case, whatever case it was asked in.
  }, (id) => id.toLowerCase());
  return {
    async search(catalogQuery, after, limit): Promise<FoundProduct[]> {
      // Unnamed: each query is planned with its values, so a rare category and a common one each get their plan.
      const { text, values } = catalogStatement(catalogQuery, after, limit);
      const { rows } = await query<ProductRow & { rank?: number }>(pool, text, values);
      return rows.map((row) => (row.rank === undefined ? { product: toProduct(row) } : { product: toProduct(row), rank: row.rank }));
    },

    stockOf: (id) => stockLookup.get(id),

    async get(id) {
      const { rows } = await query<ProductRow>(pool, `SELECT ${columns} FROM products WHERE id = $1`, [id]);
      return rows[0] && toProduct(rows[0]);
    },

    async getMany(ids) {
      if (ids.length === 0) return new Map();
      const { rows } = await query<ProductRow>(pool, `SELECT ${columns} FROM products WHERE id = ANY($1::uuid[])`, [ids]);
      return new Map(rows.map((row) => [row.id, toProduct(row)]));
    },

    async create(id, input: ProductInput) {
      const { rows } = await query<ProductRow>(
        pool,
        `INSERT INTO products (id, name, description, price, stock, category, images) VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb) RETURNING ${columns}`,
        [id, input.name, input.description, decimalFromCents(input.priceCents), input.stock, input.category, JSON.stringify(input.images)],
      );
      return toProduct(rows[0]!);
    },

    async replace(id, change, expected) {
      const { rows } = await query<ProductRow>(
        pool,
        // $7/$9: whether category/images were given (a given category may be null: no category).
        `UPDATE products SET name = $2, description = $3, price = $4, stock = coalesce($5, stock),
           category = CASE WHEN $7::boolean THEN $8 ELSE category END, images = coalesce($9::jsonb, images),
           version = version + 1, updated_at = now()
         WHERE id = $1 AND ${versionMatches(6)} RETURNING ${columns}`,
        [
          id,
          change.name,
          change.description,
          decimalFromCents(change.priceCents),
          change.stock ?? null,
          expectedParam(expected),
          change.category !== undefined,
          change.category ?? null,
          change.images === undefined ? null : JSON.stringify(change.images),
        ],
      );
      if (rows[0]) return toProduct(rows[0]);
      return expected !== undefined && (await exists(id)) ? 'version_mismatch' : undefined;
    },

    async delete(id, expected) {
      const { rowCount } = await query(pool, `DELETE FROM products WHERE id = $1 AND ${versionMatches(2)}`, [id, expectedParam(expected)]);
      if (rowCount === 1) return true;
      return expected !== undefined && (await exists(id)) ? 'version_mismatch' : false;
    },

    async addImage(id, image, maxImages) {
      const { rows } = await query<{ count: number }>(
        pool,
        `UPDATE products SET images = images || jsonb_build_array($2::jsonb), version = version + 1, updated_at = now()
                 WHERE id = $1 AND jsonb_array_length(images) < $3 RETURNING jsonb_array_length(images) AS count`,
        [id, JSON.stringify(image), maxImages],
      );
      if (rows[0]) return rows[0].count - 1;
      return (await exists(id)) ? 'image_limit' : 'not_found';
    },

    async removeImage(id, index) {
      // The row lock of FOR UPDATE keeps the image read and the one removed the same under concurrent edits.
      const { rows } = await query<{ removed: ProductImage }>(
        pool,
        `WITH target AS (SELECT images -> $2::int AS removed FROM products WHERE id = $1 FOR UPDATE)
                 UPDATE products SET images = images - $2::int, version = version + 1, updated_at = now()
                 FROM target WHERE products.id = $1 AND target.removed IS NOT NULL RETURNING target.removed`,
        [id, index],
      );
      return rows[0]?.removed;
    },
  };
}
