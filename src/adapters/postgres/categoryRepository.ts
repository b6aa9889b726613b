import type pg from 'pg';
import type { Category, CategoryRepository } from '../../domain/categories.js';
import { query } from './pool.js';

export function postgresCategoryRepository(pool: pg.Pool): CategoryRepository {
  return {
    async list() {
      // An index-only count per category (products_category_id); the read cache keeps it between changes.
      const { rows } = await query<Category>(
        pool,
        `SELECT c.slug, c.name, (SELECT count(*) FROM products p WHERE p.category = c.slug)::int AS "productCount"
           FROM categories c ORDER BY c.name, c.slug`,
      );
      return rows;
    },

    async create(slug, name) {
      const { rows } = await query<Category>(
        pool,
        `INSERT INTO categories (slug, name) VALUES ($1, $2) ON CONFLICT (slug) DO NOTHING RETURNING slug, name, 0 AS "productCount"`,
        [slug, name],
      );
      return rows[0] ?? 'exists';
    },

    async exists(slug) {
      const { rowCount } = await query(pool, 'SELECT 1 FROM categories WHERE slug = $1', [slug]);
      return rowCount === 1;
    },
  };
}
