import { describe, expect, it } from 'vitest';
import { imageTypeOf, sniffImage } from '../../src/domain/images.js';
import { productService } from '../../src/domain/products.js';
import { noReadCache } from '../../src/domain/readCache.js';
import { aProduct, inMemoryCategories, inMemoryImages, inMemoryProducts } from '../support/builders.js';
import { encodePng } from '../../scripts/png.js';

const png = encodePng(2, 2, () => [200, 100, 50]);
const jpeg = Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0x00, 0x10, 0x4a, 0x46, 0x49, 0x46, 0x00]);
const webp = Buffer.concat([Buffer.from('RIFF'), Buffer.from([0x1a, 0, 0, 0]), Buffer.from('WEBPVP8L'), Buffer.alloc(14)]);

describe('image content sniffing', () => {
  it('when the bytes are PNG, JPEG or WebP, then each is told by its signature', () => {
    expect(imageTypeOf(png)?.contentType).toBe('image/png');
    expect(imageTypeOf(jpeg)?.contentType).toBe('image/jpeg');
    expect(imageTypeOf(webp)?.contentType).toBe('image/webp');
  });

  it.each([
    ['HTML', Buffer.from('<html><script>alert(1)</script></html>')],
    ['SVG', Buffer.from('<svg xmlns="http://www.w3.org/2000/svg"/>')],
    ['GIF', Buffer.from('GIF89a\x01\x00\x01\x00')],
    ['a RIFF that is not WebP (WAV)', Buffer.concat([Buffer.from('RIFF'), Buffer.alloc(4), Buffer.from('WAVEfmt '), Buffer.alloc(8)])],
    ['a truncated PNG signature', png.subarray(0, 6)],
    ['nothing', Buffer.alloc(0)],
  ])('when the bytes are %s, then they are no image', (_case, bytes) => {
    expect(imageTypeOf(bytes)).toBeUndefined();
  });

  it('when the Content-Type names an image of the very type of the bytes, then it is accepted (parameters and case aside)', () => {
    expect(sniffImage('image/png', png).extension).toBe('png');
    expect(sniffImage('IMAGE/JPEG; q=1', jpeg).extension).toBe('jpg');
    expect(sniffImage('image/webp', webp).extension).toBe('webp');
  });

  it.each([
    ['HTML labelled as PNG', 'image/png', Buffer.from('<html></html>')],
    ['a JPEG labelled as PNG', 'image/png', jpeg],
    ['a PNG sent as octet-stream', 'application/octet-stream', png],
    ['a PNG with no Content-Type', null, png],
    ['an SVG labelled as such', 'image/svg+xml', Buffer.from('<svg/>')],
  ])('when the upload is %s, then it is 415 unsupported_media_type', (_case, contentType, bytes) => {
    expect(() => sniffImage(contentType, bytes)).toThrow(expect.objectContaining({ code: 'unsupported_media_type', status: 415 }));
  });
});

describe('product images', () => {
  const setUp = () => {
    const product = aProduct();
    const repository = inMemoryProducts([product]);
    const images = inMemoryImages();
    const service = productService(repository, noReadCache, { categories: inMemoryCategories(repository), images });
    return { product, repository, images, service };
  };
  const upload = { bytes: png, type: sniffImage('image/png', png) };

  it('when an image is added and then removed, then it is stored, listed with its alt text, and its stored copy is deleted', async () => {
    const { product, repository, images, service } = setUp();
    const added = await service.addImage(product.id, upload, 'A red mug');
    expect(images.saved.get(added.url)).toEqual(png);
    expect(repository.all.get(product.id)!.images).toEqual([{ url: added.url, alt: 'A red mug' }]);
    await service.removeImage(product.id, '0');
    expect(repository.all.get(product.id)!.images).toEqual([]);
    expect(images.saved.size).toBe(0);
  });

  it('when the product does not exist, then nothing is stored and it is a 404', async () => {
    const { images, service } = setUp();
    await expect(service.addImage(aProduct().id, upload, '')).rejects.toMatchObject({ code: 'not_found' });
    expect(images.saved.size).toBe(0);
  });

  it.each(['1', '-1', 'x', '0.5', '1000'])('when image %j of a product with one image is removed, then it is a 404 and the image stays', async (n) => {
    const { product, repository, service } = setUp();
    await service.addImage(product.id, upload, '');
    await expect(service.removeImage(product.id, n)).rejects.toMatchObject({ code: 'not_found' });
    expect(repository.all.get(product.id)!.images).toHaveLength(1);
  });

  it('when a product holds 20 images, then the 21st is product_image_limit and is not stored', async () => {
    const { product, images, service } = setUp();
    for (let i = 0; i < 20; i++) await service.addImage(product.id, upload, `${i}`);
    await expect(service.addImage(product.id, upload, '')).rejects.toMatchObject({ code: 'product_image_limit', status: 409 });
    expect(images.saved.size).toBe(20);
  });

  it('when a PUT drops an uploaded image or the product is deleted, then the stored copies are deleted too', async () => {
    const { product, images, service } = setUp();
    const [first, second] = [await service.addImage(product.id, upload, 'a'), await service.addImage(product.id, upload, 'b')];
    await service.replace(product.id, { name: 'Mug', price: 1, images: [{ url: second.url, alt: 'b, now first' }] });
    expect([...images.saved.keys()]).toEqual([second.url]);
    expect(first.url).not.toBe(second.url);
    await service.delete(product.id);
    expect(images.saved.size).toBe(0);
  });
});

describe('product categories', () => {
  it('when a product names an unknown category, then create and replace are unknown_category; a known one is kept', async () => {
    const product = aProduct();
    const repository = inMemoryProducts([product]);
    const categories = inMemoryCategories(repository);
    const service = productService(repository, noReadCache, { categories, images: inMemoryImages() });
    await expect(service.create({ name: 'Cup', price: 1, stock: 1, category: 'mugs' })).rejects.toMatchObject({ code: 'unknown_category', status: 400 });
    await expect(service.replace(product.id, { name: 'Cup', price: 1, category: 'mugs' })).rejects.toMatchObject({ code: 'unknown_category' });
    await categories.create('mugs', 'Mugs');
    expect((await service.create({ name: 'Cup', price: 1, stock: 1, category: 'mugs' })).category).toBe('mugs');
    expect((await service.replace(product.id, { name: 'Cup', price: 1 })).category).toBeNull();
  });
});
