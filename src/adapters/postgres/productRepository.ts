import type pg from 'pg';
import { centsFromDecimal, decimalFromCents } from '../../domain/money.js';
import type { ExpectedVersions, Product, ProductInput, ProductRepository } from '../../domain/products.js';
import { query } from './pool.js';

interface ProductRow {
  id: string;
  name: string;
  description: string;
  price: string;
  stock: number;
  created_at: Date;
  updated_at: Date;
  version: string;
}

const columns = 'id, name, description, price::text AS price, stock, created_at, updated_at, version';

function toProduct(row: ProductRow): Product {
  return {
    id: row.id,
    name: row.name,
    description: row.description,
    priceCents: centsFromDecimal(row.price),
    stock: row.stock,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    // bigint arrives as text; a version stays far below 2^53.
    version: Number(row.version),
  };
}

/** `$n` is NULL (any version) or the versions the write may apply to. */
const versionMatches = (n: number) => `($${n}::bigint[] IS NULL OR version = ANY($${n}::bigint[]))`;
const expectedParam = (expected: ExpectedVersions) => (expected === undefined ? null : [...expected]);

export function postgresProductRepository(pool: pg.Pool): ProductRepository {
  const exists = async (id: string) => (await query(pool, { name: 'products-exists', text: 'SELECT 1 FROM products WHERE id = $1' }, [id])).rowCount === 1;
  return {
    async list(limit, after) {
      const { rows } = after
        ? await query<ProductRow>(pool, { name: 'products-page-after', text: `SELECT ${columns} FROM products WHERE id > $1 ORDER BY id LIMIT $2` }, [after, limit])
        : await query<ProductRow>(pool, { name: 'products-page-first', text: `SELECT ${columns} FROM products ORDER BY id LIMIT $1` }, [limit]);
      return rows.map(toProduct);
    },

    async get(id) {
      const { rows } = await query<ProductRow>(pool, { name: 'products-get', text: `SELECT ${columns} FROM products WHERE id = $1` }, [id]);
      return rows[0] && toProduct(rows[0]);
    },

    async getMany(ids) {
      if (ids.length === 0) return new Map();
      const { rows } = await query<ProductRow>(pool, { name: 'products-get-many', text: `SELECT ${columns} FROM products WHERE id = ANY($1::uuid[])` }, [ids]);
      return new Map(rows.map((row) => [row.id, toProduct(row)]));
    },

    async create(id, input: ProductInput) {
      const { rows } = await query<ProductRow>(
        pool,
        { text: `INSERT INTO products (id, name, description, price, stock) VALUES ($1, $2, $3, $4, $5) RETURNING ${columns}` },
        [id, input.name, input.description, decimalFromCents(input.priceCents), input.stock],
      );
      return toProduct(rows[0]!);
    },

    async replace(id, change, expected) {
      const { rows } = await query<ProductRow>(
        pool,
        {
          text: `UPDATE products SET name = $2, description = $3, price = $4, stock = coalesce($5, stock), version = version + 1, updated_at = now()
                 WHERE id = $1 AND ${versionMatches(6)} RETURNING ${columns}`,
        },
        [id, change.name, change.description, decimalFromCents(change.priceCents), change.stock ?? null, expectedParam(expected)],
      );
      if (rows[0]) return toProduct(rows[0]);
      return expected !== undefined && (await exists(id)) ? 'version_mismatch' : undefined;
    },

    async delete(id, expected) {
      const { rowCount } = await query(pool, { text: `DELETE FROM products WHERE id = $1 AND ${versionMatches(2)}` }, [id, expectedParam(expected)]);
      if (rowCount === 1) return true;
      return expected !== undefined && (await exists(id)) ? 'version_mismatch' : false;
    },
  };
}
