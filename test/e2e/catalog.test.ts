import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { aProductBody } from '../support/builders.js';
import { startShop, type Shop } from '../support/shop.js';
import { encodePng } from '../../scripts/png.js';

interface ProductJson {
  id: string;
  name: string;
  price: number;
  category: string | null;
  images: Array<{ url: string; alt: string }>;
}
interface Page {
  items: ProductJson[];
  nextCursor: string | null;
}
interface Problem {
  status: number;
  code: string;
  detail: string;
  available?: number;
}

let shop: Shop;
let writer: string;
let reader: string;

beforeAll(async () => {
  shop = await startShop();
  [writer, reader] = await Promise.all([shop.token({ roles: ['Products.Write'] }), shop.token()]);
});

afterAll(async () => {
  await shop?.stop();
});

/** A word no other product has, so a search finds only this test's products. */
const uniqueWord = () => `zq${randomUUID().replace(/[^a-f]/g, '').slice(0, 8)}`;
const uniqueSlug = (prefix = 'cat') => `${prefix}-${randomUUID().slice(0, 8)}`;

async function problemOf(response: Response, status: number): Promise<Problem> {
  expect(response.status, await response.clone().text()).toBe(status);
  expect(response.headers.get('content-type')).toMatch(/^application\/problem\+json/);
  return (await response.json()) as Problem;
}

async function aCategory(slug = uniqueSlug()): Promise<string> {
  const response = await shop.call('/categories', { method: 'POST', token: writer, body: { slug, name: `Category ${slug}` } });
  expect(response.status, await response.clone().text()).toBe(201);
  return slug;
}

async function create(overrides: Parameters<typeof aProductBody>[0] = {}): Promise<ProductJson> {
  const response = await shop.call('/products', { method: 'POST', token: writer, body: aProductBody(overrides) });
  expect(response.status, await response.clone().text()).toBe(201);
  return (await response.json()) as ProductJson;
}

async function page(query: string, token: string | undefined = reader): Promise<Page> {
  const response = await shop.call(`/products?${query}`, { token });
  expect(response.status, await response.clone().text()).toBe(200);
  return (await response.json()) as Page;
}

/** Every product of a query, following nextCursor with `limit` per page. */
async function walk(query: string, limit = 2): Promise<string[]> {
  const names: string[] = [];
  let cursor: string | null = null;
  let pages = 0;
  do {
    const result = await page(`${query}&limit=${limit}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
    expect(result.items.length).toBeLessThanOrEqual(limit);
    names.push(...result.items.map((item) => item.name));
    cursor = result.nextCursor;
  } while (cursor && ++pages < 100);
  return names;
}

describe('categories', () => {
  it('when a writer creates a category, then it is 201 and listed with its product count', async () => {
    const slug = uniqueSlug('mugs');
    const response = await shop.call('/categories', { method: 'POST', token: writer, body: { slug, name: 'Mugs' } });
    expect(response.status).toBe(201);
    expect(await response.json()).toEqual({ slug, name: 'Mugs', productCount: 0 });
    await create({ category: slug });
    await create({ category: slug });
    const list = (await (await shop.call('/categories', { token: reader })).json()) as { items: Array<{ slug: string; name: string; productCount: number }> };
    expect(list.items).toContainEqual({ slug, name: 'Mugs', productCount: 2 });
  });

  it('when the slug exists, then it is 409 category_exists and the first name stays', async () => {
    const slug = await aCategory();
    expect((await problemOf(await shop.call('/categories', { method: 'POST', token: writer, body: { slug, name: 'Other' } }), 409)).code).toBe('category_exists');
    const list = (await (await shop.call('/categories', { token: reader })).json()) as { items: Array<{ slug: string; name: string }> };
    expect(list.items.find((item) => item.slug === slug)?.name).toBe(`Category ${slug}`);
  });

  it.each(['Mugs', 'mugs and cups', 'mugs_cups', '-mugs', 'mugs-', 'mu--gs', '', 'é'])('when the slug is %j, then it is 400', async (slug) => {
    expect((await problemOf(await shop.call('/categories', { method: 'POST', token: writer, body: { slug, name: 'Mugs' } }), 400)).code).toBe('invalid_request');
  });

  it('when the caller lacks Products.Write or a token, then it is 403 / 401', async () => {
    await problemOf(await shop.call('/categories', { method: 'POST', token: reader, body: { slug: uniqueSlug(), name: 'x' } }), 403);
    await problemOf(await shop.call('/categories', { method: 'POST', body: { slug: uniqueSlug(), name: 'x' } }), 401);
    await problemOf(await shop.call('/categories'), 401);
  });

  it('when a product names a category, then it carries the slug; an unknown slug is 400 unknown_category; PUT can change or clear it', async () => {
    const [first, second] = [await aCategory(), await aCategory()];
    const product = await create({ category: first });
    expect(product.category).toBe(first);
    expect((await problemOf(await shop.call('/products', { method: 'POST', token: writer, body: aProductBody({ category: uniqueSlug('nope') }) }), 400)).code).toBe('unknown_category');
    const put = (body: unknown) => shop.call(`/products/${product.id}`, { method: 'PUT', token: writer, body });
    expect((await problemOf(await put({ name: 'x', price: 1, category: uniqueSlug('nope') }), 400)).code).toBe('unknown_category');
    expect(((await (await put({ name: 'x', price: 1 })).json()) as ProductJson).category).toBe(first);
    expect(((await (await put({ name: 'x', price: 1, category: second })).json()) as ProductJson).category).toBe(second);
    expect(((await (await put({ name: 'x', price: 1, category: null })).json()) as ProductJson).category).toBeNull();
  });
});

describe('search', () => {
  it('when words are searched, then names and descriptions match by word stem, name matches first', async () => {
    const word = uniqueWord();
    const inName = await create({ name: `Burr grinders ${word}`, description: 'Steel burrs' });
    const inDescription = await create({ name: `Hand mill ${word}`, description: 'A grinder for travel' });
    await create({ name: `Kettle ${word}`, description: 'Gooseneck' });
    const found = await page(`q=${encodeURIComponent(`grinder ${word}`)}`);
    expect(found.items.map((p) => p.id)).toEqual([inName.id, inDescription.id]);
    expect((await page(`q=${encodeURIComponent(`grinders ${word}`)}`)).items.map((p) => p.id)).toEqual([inName.id, inDescription.id]);
  });

  it('when many products match, then relevance pages continue with nextCursor and nothing repeats or is lost', async () => {
    const word = uniqueWord();
    for (let i = 0; i < 5; i++) await create({ name: `${word} ${i % 2 ? word : 'item'} ${i}`, description: i % 3 ? word : 'plain' });
    const names = await walk(`q=${word}`);
    expect(names).toHaveLength(5);
    expect(new Set(names).size).toBe(5);
  });

  it('when nothing matches or q is only stop words, then the page is empty', async () => {
    expect((await page(`q=${uniqueWord()}`)).items).toEqual([]);
    expect((await page('q=the')).items).toEqual([]);
  });

  it.each(['"unclosed', 'a & b | !c', "'; DROP TABLE products; --", 'or', '-', ':*', '(((', '\\'])('when q is %j, then it is answered, not a 5xx', async (q) => {
    expect((await shop.call(`/products?q=${encodeURIComponent(q)}`, { token: reader })).status).toBe(200);
  });
});

describe('sort, category and price filters', () => {
  let category: string;
  beforeAll(async () => {
    category = await aCategory();
    for (const [name, price] of [
      ['Cup', 8],
      ['Mug', 12],
      ['Bowl', 12],
      ['Plate', 20],
      ['Apron', 12.5],
    ] as const) {
      await create({ name, price, category });
    }
    await create({ name: 'Outside', price: 10 });
  });

  it('when a category is sorted by price, -price or name, then every page follows the order and ties keep one order', async () => {
    const byPrice = await walk(`category=${category}&sort=price`);
    expect(byPrice[0]).toBe('Cup');
    expect(byPrice.slice(1, 3).sort()).toEqual(['Bowl', 'Mug']);
    expect(byPrice.slice(3)).toEqual(['Apron', 'Plate']);
    expect(await walk(`category=${category}&sort=-price`)).toEqual([...byPrice].reverse());
    expect(await walk(`category=${category}&sort=name`)).toEqual(['Apron', 'Bowl', 'Cup', 'Mug', 'Plate']);
  });

  it('when no sort is given, then the newest come first', async () => {
    expect(await walk(`category=${category}`)).toEqual(['Apron', 'Plate', 'Bowl', 'Mug', 'Cup']);
    expect(await walk(`category=${category}&sort=newest`, 3)).toEqual(['Apron', 'Plate', 'Bowl', 'Mug', 'Cup']);
  });

  it('when prices are bounded, then both bounds are inclusive', async () => {
    expect(await walk(`category=${category}&minPrice=12&maxPrice=12.5&sort=name`)).toEqual(['Apron', 'Bowl', 'Mug']);
    expect(await walk(`category=${category}&minPrice=12.01&sort=price`)).toEqual(['Apron', 'Plate']);
    expect(await walk(`category=${category}&maxPrice=8`)).toEqual(['Cup']);
  });

  it('when the category has no products or does not exist, then the page is empty', async () => {
    expect((await page(`category=${uniqueSlug('none')}`)).items).toEqual([]);
  });

  it('when a cursor of one query is sent with another, then it is 400', async () => {
    const first = await page(`category=${category}&sort=price&limit=2`);
    expect(first.nextCursor).not.toBeNull();
    const cursor = encodeURIComponent(first.nextCursor!);
    expect((await shop.call(`/products?category=${category}&sort=price&limit=2&cursor=${cursor}`, { token: reader })).status).toBe(200);
    await problemOf(await shop.call(`/products?category=${category}&sort=-price&limit=2&cursor=${cursor}`, { token: reader }), 400);
    await problemOf(await shop.call(`/products?category=${category}&sort=price&minPrice=1&limit=2&cursor=${cursor}`, { token: reader }), 400);
    await problemOf(await shop.call(`/products?sort=price&limit=2&cursor=${cursor}`, { token: reader }), 400);
  });

  it.each(['sort=cheapest', 'sort=PRICE', 'minPrice=-1', 'minPrice=abc', 'maxPrice=1.999', 'minPrice=1e3', 'minPrice=10&maxPrice=5', 'category=Not%20A%20Slug', `q=${'x'.repeat(201)}`])(
    'when the query is %s, then it is 400 problem+json with code invalid_request naming the parameter',
    async (query) => {
      const problem = (await problemOf(await shop.call(`/products?${query}`, { token: reader }), 400)) as Problem & { errors: Array<{ path: string }> };
      expect(problem.code).toBe('invalid_request');
      expect(problem.errors[0]!.path).toBe(`query.${query.split('=')[0]}`);
    },
  );
});

describe('images', () => {
  const png = encodePng(16, 16, (x, y) => [x * 16, y * 16, 128]);
  const upload = (productId: string, body: Buffer, contentType: string, token = writer, alt?: string) =>
    fetch(`${shop.api}/products/${productId}/images${alt === undefined ? '' : `?alt=${encodeURIComponent(alt)}`}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': contentType },
      body,
    });

  it('when a writer uploads a PNG, then it is 201 with a url anyone can GET and the product lists it with its alt text', async () => {
    const product = await create();
    const response = await upload(product.id, png, 'image/png', writer, 'A test pattern');
    expect(response.status, await response.clone().text()).toBe(201);
    const image = (await response.json()) as { url: string; alt: string };
    expect(image.alt).toBe('A test pattern');
    expect(response.headers.get('location')).toBe(image.url);
    const served = await fetch(image.url);
    expect(served.status).toBe(200);
    expect(served.headers.get('content-type')).toBe('image/png');
    expect(Buffer.from(await served.arrayBuffer())).toEqual(png);
    const read = (await (await shop.call(`/products/${product.id}`, { token: reader })).json()) as ProductJson;
    expect(read.images).toEqual([image]);
  });

  it('when images are deleted by position, then the rest move up, the blob is gone, and a missing position is 404', async () => {
    const product = await create();
    const urls: string[] = [];
    for (const alt of ['first', 'second']) urls.push(((await (await upload(product.id, png, 'image/png', writer, alt)).json()) as { url: string }).url);
    const remove = (n: string, token = writer) => shop.call(`/products/${product.id}/images/${n}`, { method: 'DELETE', token });
    await problemOf(await remove('0', reader), 403);
    expect((await remove('0')).status).toBe(204);
    const read = (await (await shop.call(`/products/${product.id}`, { token: reader })).json()) as ProductJson;
    expect(read.images).toEqual([{ url: urls[1], alt: 'second' }]);
    expect((await fetch(urls[0]!)).status).toBe(404);
    await problemOf(await remove('1'), 404);
    await problemOf(await remove('x'), 404);
    expect((await remove('0')).status).toBe(204);
    await problemOf(await remove('0'), 404);
  });

  it('when the body is not an image of an accepted type, by header or by content, then it is 415 and nothing is stored', async () => {
    const product = await create();
    const jpegHeader = Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0, 0x10, 0x4a, 0x46, 0x49, 0x46, 0]);
    for (const [body, type] of [
      [Buffer.from('<html><script>alert(1)</script></html>'), 'image/png'],
      [png, 'image/jpeg'],
      [jpegHeader, 'image/png'],
      [png, 'application/octet-stream'],
      [Buffer.from('<svg xmlns="http://www.w3.org/2000/svg"/>'), 'image/svg+xml'],
      [Buffer.from('GIF89a'), 'image/gif'],
    ] as const) {
      expect((await problemOf(await upload(product.id, body, type), 415)).code).toBe('unsupported_media_type');
    }
    expect(((await (await shop.call(`/products/${product.id}`, { token: reader })).json()) as ProductJson).images).toEqual([]);
  });

  it('when the image is exactly 5 MiB, then it is stored; one byte more is 413', async () => {
    const product = await create();
    const padded = (size: number) => Buffer.concat([png, Buffer.alloc(size - png.length)]);
    expect((await upload(product.id, padded(5 * 1024 * 1024), 'image/png')).status).toBe(201);
    expect((await problemOf(await upload(product.id, padded(5 * 1024 * 1024 + 1), 'image/png'), 413)).code).toBe('payload_too_large');
  });

  it('when a product holds 20 images, then the 21st upload is 409 product_image_limit and nothing is added', async () => {
    const product = await create();
    for (let i = 0; i < 20; i++) expect((await upload(product.id, png, 'image/png', writer, `view ${i}`)).status).toBe(201);
    expect((await problemOf(await upload(product.id, png, 'image/png'), 409)).code).toBe('product_image_limit');
    expect(((await (await shop.call(`/products/${product.id}`, { token: reader })).json()) as ProductJson).images).toHaveLength(20);
  });

  it('when the product does not exist or the caller lacks Products.Write, then it is 404 / 403 / 401', async () => {
    await problemOf(await upload(randomUUID(), png, 'image/png'), 404);
    const product = await create();
    await problemOf(await upload(product.id, png, 'image/png', reader), 403);
    await problemOf(await fetch(`${shop.api}/products/${product.id}/images`, { method: 'POST', headers: { 'content-type': 'image/png' }, body: png }), 401);
  });

  it('when a PUT sets images with alt texts, then they replace the list; left out, they stay', async () => {
    const product = await create({ images: [{ url: 'https://cdn.example.com/a.png', alt: 'A' }] });
    expect(product.images).toEqual([{ url: 'https://cdn.example.com/a.png', alt: 'A' }]);
    const put = (body: unknown) => shop.call(`/products/${product.id}`, { method: 'PUT', token: writer, body });
    expect(((await (await put({ name: 'x', price: 1 })).json()) as ProductJson).images).toHaveLength(1);
    const changed = (await (await put({ name: 'x', price: 1, images: [{ url: 'https://cdn.example.com/a.png', alt: 'Front view' }] })).json()) as ProductJson;
    expect(changed.images).toEqual([{ url: 'https://cdn.example.com/a.png', alt: 'Front view' }]);
    await problemOf(await put({ name: 'x', price: 1, images: [{ url: 'javascript:alert(1)', alt: '' }] }), 400);
  });
});

describe('CATALOG_PUBLIC_READ', () => {
  let publicShop: Shop;
  beforeAll(async () => {
    publicShop = await startShop({ env: { CATALOG_PUBLIC_READ: 'true' } });
  });
  afterAll(async () => {
    await publicShop?.stop();
  });

  it('when true, then the catalog reads answer without a token, a bad token is still 401, and everything else needs a token', async () => {
    const product = await create();
    expect((await publicShop.call('/products')).status).toBe(200);
    expect((await publicShop.call(`/products/${product.id}`)).status).toBe(200);
    expect((await publicShop.call('/categories')).status).toBe(200);
    expect((await publicShop.call(`/products?q=mug&sort=price`)).status).toBe(200);
    await problemOf(await publicShop.call('/products', { token: 'not-a-token' }), 401);
    await problemOf(await publicShop.call('/categories', { headers: { authorization: 'Bearer ' } }), 401);
    expect((await publicShop.call('/products', { token: await publicShop.token() })).status).toBe(200);
    await problemOf(await publicShop.call('/cart'), 401);
    await problemOf(await publicShop.call('/orders'), 401);
    await problemOf(await publicShop.call('/products', { method: 'POST', body: aProductBody() }), 401);
    await problemOf(await publicShop.call('/categories', { method: 'POST', body: { slug: uniqueSlug(), name: 'x' } }), 401);
  });

  it('when false (the default), then the catalog reads need a token', async () => {
    await problemOf(await shop.call('/products'), 401);
    await problemOf(await shop.call('/categories'), 401);
    await problemOf(await shop.call(`/products/${randomUUID()}`), 401);
  });
});
