import { services } from '../src/app/container.js';
import { productBodySchema, productSchema } from '../src/domain/products.js';
import { apiRoute } from '../src/http/api.js';
import { pageOf, pageQuerySchema } from '../src/http/schemas.js';

const tags = ['products'];

apiRoute('listProducts', {
  method: 'GET',
  route: 'products',
  access: 'authenticated',
  summary: 'List products, in creation order, one page at a time',
  tags,
  query: pageQuerySchema,
  responses: { 200: { description: 'A page of products', schema: pageOf(productSchema) } },
  handler: async ({ query }) => ({ status: 200, body: await services().productService.list(query.limit, query.cursor) }),
});

apiRoute('getProduct', {
  method: 'GET',
  route: 'products/{id}',
  access: 'authenticated',
  summary: 'Get a product',
  tags,
  responses: { 200: { description: 'The product', schema: productSchema }, 404: { description: 'No such product' } },
  handler: async ({ params }) => ({ status: 200, body: await services().productService.get(params.id!) }),
});

apiRoute('createProduct', {
  method: 'POST',
  route: 'products',
  access: 'Products.Write',
  summary: 'Create a product',
  tags,
  body: productBodySchema,
  responses: { 201: { description: 'The created product; Location names it', schema: productSchema } },
  handler: async ({ body }) => {
    const product = await services().productService.create(body);
    return { status: 201, body: product, headers: { location: `/api/products/${product.id}` } };
  },
});

apiRoute('replaceProduct', {
  method: 'PUT',
  route: 'products/{id}',
  access: 'Products.Write',
  summary: 'Replace a product',
  tags,
  body: productBodySchema,
  responses: { 200: { description: 'The product as stored', schema: productSchema }, 404: { description: 'No such product' } },
  handler: async ({ params, body }) => ({ status: 200, body: await services().productService.replace(params.id!, body) }),
});

apiRoute('deleteProduct', {
  method: 'DELETE',
  route: 'products/{id}',
  access: 'Products.Write',
  summary: 'Delete a product (orders keep their snapshot of it)',
  tags,
  responses: { 204: { description: 'Deleted' }, 404: { description: 'No such product' } },
  handler: async ({ params }) => {
    await services().productService.delete(params.id!);
    return { status: 204 };
  },
});
