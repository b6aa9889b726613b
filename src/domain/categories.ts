import { z } from 'zod';
import { AppError } from '../errors.js';
import { categorySlugSchema } from './catalogQuery.js';
import type { ReadCache } from './readCache.js';

export interface Category {
  slug: string;
  name: string;
  /** How many products are in it (all of them, in stock or not). */
  productCount: number;
}

export interface CategoryRepository {
  /** Every category with its product count, by name. */
  list(): Promise<Category[]>;
  /** The new category, or 'exists' when its slug is taken. */
  create(slug: string, name: string): Promise<Category | 'exists'>;
  exists(slug: string): Promise<boolean>;
}

export const categoryBodySchema = z.strictObject({
  slug: categorySlugSchema,
  name: z
    .string()
    .trim()
    .min(1)
    .max(100)
    .refine((value) => !value.includes('\u0000'), 'must not contain NUL characters'),
});

export const categorySchema = z.object({ slug: z.string(), name: z.string(), productCount: z.int() });

export type CategoryBody = z.infer<typeof categoryBodySchema>;

/** Category use-cases; the list (with counts) is read through `cache`, which product changes clear too. */
export function categoryService(categories: CategoryRepository, cache: ReadCache) {
  return {
    list: (): Promise<{ items: Category[] }> => cache.getOrLoad('categories', async () => ({ items: await categories.list() })),

    async create(body: CategoryBody): Promise<Category> {
      const created = await categories.create(body.slug, body.name);
      cache.invalidate();
      if (created === 'exists') throw new AppError('category_exists', `A category with slug ${JSON.stringify(body.slug)} already exists`);
      return created;
    },
  };
}

export type CategoryService = ReturnType<typeof categoryService>;
