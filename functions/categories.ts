import { z } from 'zod';
import { services } from '../src/app/container.js';
import { categoryBodySchema, categorySchema } from '../src/domain/categories.js';
import { apiRoute } from '../src/http/api.js';

const tags = ['categories'];

apiRoute('listCategories', {
  method: 'GET',
  route: 'categories',
  access: 'catalog',
  summary: 'List the categories, by name, with how many products each holds',
  tags,
  responses: { 200: { description: 'Every category', schema: z.object({ items: z.array(categorySchema) }) } },
  handler: async () => ({ status: 200, body: await services().categoryService.list() }),
});

apiRoute('createCategory', {
  method: 'POST',
  route: 'categories',
  access: 'Products.Write',
  summary: 'Create a category',
  tags,
  body: categoryBodySchema,
  responses: {
    201: { description: 'The created category; Location lists its products', schema: categorySchema },
    409: { description: 'A category with this slug exists', codes: ['category_exists'] },
  },
  handler: async ({ body }) => {
    const category = await services().categoryService.create(body);
    return { status: 201, body: category, headers: { location: `/api/products?category=${category.slug}` } };
  },
});
