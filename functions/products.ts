import { services } from '../src/app/container.js';
import { productBodySchema, productReplaceBodySchema, productSchema } from '../src/domain/products.js';
import { apiRoute } from '../src/http/api.js';
import { etagHeader, etagOf, ifMatchHeader, versionsFromIfMatch } from '../src/http/conditional.js';
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
  responses: { 200: { description: 'The product; ETag is its version', schema: productSchema, headers: { ETag: etagHeader } }, 404: { description: 'No such product' } },
  handler: async ({ params }) => {
    const product = await services().productService.get(params.id!);
    return { status: 200, body: product, headers: { etag: etagOf(product.version) } };
  },
});

apiRoute('createProduct', {
  method: 'POST',
  route: 'products',
  access: 'Products.Write',
  summary: 'Create a product',
  tags,
  body: productBodySchema,
  responses: { 201: { description: 'The created product; Location names it', schema: productSchema, headers: { ETag: etagHeader } } },
  handler: async ({ body }) => {
    const product = await services().productService.create(body);
    return { status: 201, body: product, headers: { location: `/api/products/${product.id}`, etag: etagOf(product.version) } };
  },
});

apiRoute('replaceProduct', {
  method: 'PUT',
  route: 'products/{id}',
  access: 'Products.Write',
  summary: 'Replace a product (stock only when given); conditional with If-Match',
  tags,
  headers: { 'If-Match': ifMatchHeader },
  body: productReplaceBodySchema,
  responses: {
    200: { description: 'The product as stored; ETag is its new version', schema: productSchema, headers: { ETag: etagHeader } },
    404: { description: 'No such product' },
    412: { description: 'If-Match names a version that is no longer current', codes: ['product_version_mismatch'] },
  },
  handler: async ({ params, body, request }) => {
    const product = await services().productService.replace(params.id!, body, versionsFromIfMatch(request.headers.get('if-match')));
    return { status: 200, body: product, headers: { etag: etagOf(product.version) } };
  },
});

apiRoute('deleteProduct', {
  method: 'DELETE',
  route: 'products/{id}',
  access: 'Products.Write',
  summary: 'Delete a product (orders keep their snapshot of it); conditional with If-Match',
  tags,
  headers: { 'If-Match': ifMatchHeader },
  responses: {
    204: { description: 'Deleted' },
    404: { description: 'No such product' },
    412: { description: 'If-Match names a version that is no longer current', codes: ['product_version_mismatch'] },
  },
  handler: async ({ params, request }) => {
    await services().productService.delete(params.id!, versionsFromIfMatch(request.headers.get('if-match')));
    return { status: 204 };
  },
});
