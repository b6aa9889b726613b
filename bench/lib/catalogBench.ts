/*
 * npm run bench -- catalog: the catalog's queries at 100k products. Seeds a private database with
 * `products` rows (20 categories, names and descriptions from word lists), then times three kinds
 * of query two ways: the repository's SQL straight against Postgres (what a read-cache miss costs),
 * and GET /api/products through the local host with a different query string each time (so the
 * read cache rarely answers). One JSON line with p50/p99/max per query kind.
 */
import type pg from 'pg';
import { catalogStatement, postgresProductRepository } from '../../src/adapters/postgres/productRepository.js';
import { catalogQueryOf, productQuerySchema } from '../../src/domain/catalogQuery.js';
import type { Shop } from '../../test/support/shop.js';
import { percentile, round } from '../../test/faults/support/load.js';

const adjectives = ['compact', 'classic', 'modern', 'rustic', 'sturdy', 'elegant', 'travel', 'premium', 'everyday', 'vintage', 'matte', 'glossy', 'insulated', 'handmade', 'nordic', 'bold', 'gentle', 'smart', 'folding', 'mini'];
const nouns = ['grinder', 'kettle', 'dripper', 'mug', 'scale', 'jar', 'filter', 'tamper', 'carafe', 'press', 'frother', 'spoon', 'canister', 'roaster', 'thermos', 'tray', 'brush', 'funnel', 'pitcher', 'siphon', 'cup', 'saucer', 'apron', 'towel', 'timer', 'sieve', 'bottle', 'bowl', 'stand', 'rack', 'knife', 'board', 'tin', 'pot', 'ladle', 'whisk', 'shaker', 'basket', 'lid', 'cosy', 'coaster', 'capsule', 'pod', 'bag', 'box', 'crate', 'glass', 'flask', 'dispenser', 'holder'];
const materials = ['steel', 'ceramic', 'glass', 'bamboo', 'walnut', 'copper', 'enamel', 'porcelain', 'cast iron', 'silicone'];
const uses = ['espresso', 'pour-over', 'cold brew', 'tea', 'camping', 'the office', 'gifts', 'baristas', 'latte art', 'mornings'];

export const categoryCount = 20;

/** Inserts `count` products in batches, with a category each, then ANALYZEs (as autovacuum would). */
export async function seedCatalog(db: pg.Pool, count: number, log: (message: string) => void): Promise<void> {
  await db.query(`INSERT INTO categories (slug, name) SELECT 'cat-' || i, 'Category ' || i FROM generate_series(1, $1::int) i ON CONFLICT DO NOTHING`, [categoryCount]);
  const batch = 20_000;
  for (let from = 0; from < count; from += batch) {
    await db.query(
      `INSERT INTO products (id, name, description, price, stock, category)
       SELECT gen_random_uuid(),
              initcap(($3::text[])[1 + i % 20] || ' ' || ($4::text[])[1 + (i / 20) % 50]) || ' ' || i,
              'A ' || ($3::text[])[1 + (i / 7) % 20] || ' ' || ($4::text[])[1 + (i / 3) % 50] || ' in ' || ($5::text[])[1 + i % 10] || ', made for ' || ($6::text[])[1 + (i / 11) % 10] || '.',
              ((i * 7919) % 50000) / 100.0, (i % 200), 'cat-' || (1 + i % $7::int)
       FROM generate_series($1::int, $2::int) i`,
      [from, Math.min(from + batch, count) - 1, adjectives, nouns, materials, uses, categoryCount],
    );
    log(`catalog: ${Math.min(from + batch, count)} of ${count} products`);
  }
  await db.query('ANALYZE products');
}

export interface CatalogScenario {
  name: string;
  /** The i-th query string of this kind (varied, so caches do not answer them all). */
  query: (i: number) => string;
}

const pick = <T>(list: readonly T[], i: number) => list[i % list.length]!;

export const catalogScenarios: CatalogScenario[] = [
  // One word that matches ~1 in 50 products (2 000 rows to rank), then two words (all must match).
  { name: 'search', query: (i) => `q=${encodeURIComponent(i % 2 ? pick(nouns, i) : `${pick(adjectives, i * 7)} ${pick(nouns, i)}`)}&limit=${20 + (i % 5)}` },
  // A category's first page, newest first (~5 000 products each), a price-sorted one every third time.
  { name: 'categoryPage', query: (i) => `category=cat-${1 + (i % categoryCount)}&limit=${20 + (i % 5)}${i % 3 === 0 ? '&sort=price' : ''}` },
  // The whole catalog sorted by price, -price or name, with a price floor on every other query.
  { name: 'sort', query: (i) => `sort=${pick(['price', '-price', 'name'], i)}&limit=${20 + (i % 5)}${i % 2 ? `&minPrice=${(i * 37) % 400}` : ''}` },
];

function stats(ms: number[]) {
  return { p50Ms: round(percentile(ms, 50), 2), p99Ms: round(percentile(ms, 99), 2), maxMs: round(Math.max(...ms), 2), n: ms.length };
}

/** Times `count` queries of each scenario against the repository (SQL only), one at a time. */
export async function timeRepository(db: pg.Pool, count: number): Promise<Record<string, ReturnType<typeof stats>>> {
  const repository = postgresProductRepository(db);
  const results: Record<string, ReturnType<typeof stats>> = {};
  for (const scenario of catalogScenarios) {
    const ms: number[] = [];
    for (let i = 0; i < count; i++) {
      const params = productQuerySchema.parse(Object.fromEntries(new URLSearchParams(scenario.query(i))));
      const started = performance.now();
      await repository.search(catalogQueryOf(params), undefined, params.limit + 1);
      ms.push(performance.now() - started);
    }
    results[scenario.name] = stats(ms);
  }
  return results;
}

/** Times `count` GET /products of each scenario through the host, `concurrency` at a time; the second page follows nextCursor. */
export async function timeHttp(shop: Shop, token: string, count: number, concurrency: number): Promise<Record<string, ReturnType<typeof stats> & { non200: number }>> {
  const results: Record<string, ReturnType<typeof stats> & { non200: number }> = {};
  for (const scenario of catalogScenarios) {
    const ms: number[] = [];
    let non200 = 0;
    let next = 0;
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (next < count) {
          const i = next++;
          const started = performance.now();
          const response = await shop.call(`/products?${scenario.query(i)}`, { token });
          const body = (await response.json()) as { nextCursor?: string | null };
          ms.push(performance.now() - started);
          if (response.status !== 200) non200++;
          // Every fifth query also fetches its second page, so cursor pages are in the figures too.
          if (i % 5 === 0 && body.nextCursor) {
            const pageStarted = performance.now();
            const second = await shop.call(`/products?${scenario.query(i)}&cursor=${encodeURIComponent(body.nextCursor)}`, { token });
            await second.arrayBuffer();
            ms.push(performance.now() - pageStarted);
            if (second.status !== 200) non200++;
          }
        }
      }),
    );
    results[scenario.name] = { ...stats(ms), non200 };
  }
  return results;
}

/** The statement plans Postgres picks for one query of each kind (index names show what is used). */
export async function plans(db: pg.Pool): Promise<Record<string, string>> {
  const result: Record<string, string> = {};
  for (const scenario of catalogScenarios) {
    const params = productQuerySchema.parse(Object.fromEntries(new URLSearchParams(scenario.query(1))));
    const { text, values } = catalogStatement(catalogQueryOf(params), undefined, params.limit + 1);
    const { rows } = await db.query<{ 'QUERY PLAN': string }>(`EXPLAIN ${text}`, values);
    result[scenario.name] = rows.map((row) => row['QUERY PLAN'].trim()).filter((line) => /Scan|Sort|Limit/.test(line)).map((line) => line.replace(/\s+\(cost.*$/, '')).join(' / ');
  }
  return result;
}
