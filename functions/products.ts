import { z } from 'zod';
import { services } from '../src/app/container.js';
import { productQuerySchema } from '../src/domain/catalogQuery.js';
import { imageContentTypes, maxImageBytes, sniffImage } from '../src/domain/images.js';
import { imageAltSchema, productBodySchema, productReplaceBodySchema, productSchema } from '../src/domain/products.js';
import { apiRoute } from '../src/http/api.js';
import { etagHeader, etagOf, ifMatchHeader, versionsFromIfMatch } from '../src/http/conditional.js';
import { pageOf } from '../src/http/schemas.js';

const tags = ['products'];

apiRoute('listProducts', {
  method: 'GET',
  route: 'products',
  access: 'catalog',
  summary: 'Search and list products: words, category, price range and sort, one page at a time',
  tags,
  query: productQuerySchema,
  responses: {
    200: { description: 'A page of products; nextCursor continues this same query (and is refused by any other)', schema: pageOf(productSchema) },
    400: { description: 'A parameter is invalid (unknown sort, bad price, a cursor of another query); `errors` lists which', codes: ['invalid_request'] },
  },
  handler: async ({ query }) => ({ status: 200, body: await services().productService.list(query) }),
});

apiRoute('getProduct', {
  method: 'GET',
  route: 'products/{id}',
  access: 'catalog',
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
  responses: {
    201: { description: 'The created product; Location names it', schema: productSchema, headers: { ETag: etagHeader } },
    400: { description: 'The body is invalid, or names an unknown category', codes: ['invalid_request', 'unknown_category'] },
  },
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
    400: { description: 'The body is invalid, or names an unknown category', codes: ['invalid_request', 'unknown_category'] },
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

apiRoute('uploadProductImage', {
  method: 'POST',
  route: 'products/{id}/images',
  access: 'Products.Write',
  summary: 'Upload an image of a product (PNG, JPEG or WebP, at most 5 MiB); it is appended to its images',
  tags,
  query: z.object({ alt: imageAltSchema.optional() }),
  binaryBody: {
    contentTypes: imageContentTypes,
    maxBytes: maxImageBytes,
    description: 'The image itself; its Content-Type must name its format, which is checked against its content',
  },
  responses: {
    201: { description: 'The stored image: its public URL (also in Location) and alt text', schema: z.object({ url: z.string(), alt: z.string() }) },
    404: { description: 'No such product' },
    409: { description: 'The product holds the most images it can', codes: ['product_image_limit'] },
    413: { description: `The image is larger than ${maxImageBytes} bytes`, codes: ['payload_too_large'] },
    415: { description: 'Not a PNG, JPEG or WebP image, or not the type its Content-Type names', codes: ['unsupported_media_type'] },
  },
  handler: async ({ params, query, bytes, request }) => {
    const image = sniffImage(request.headers.get('content-type'), bytes);
    const stored = await services().productService.addImage(params.id!, { bytes, type: image }, query.alt ?? '');
    return { status: 201, body: stored, headers: { location: stored.url } };
  },
});

apiRoute('deleteProductImage', {
  method: 'DELETE',
  route: 'products/{id}/images/{n}',
  access: 'Products.Write',
  summary: "Remove a product's image by its 0-based position in `images`, and delete its stored copy",
  tags,
  responses: { 204: { description: 'Removed; the images after it move up one place' }, 404: { description: 'No such product, or it has no image at that position' } },
  handler: async ({ params }) => {
    await services().productService.removeImage(params.id!, params.n!);
    return { status: 204 };
  },
});
