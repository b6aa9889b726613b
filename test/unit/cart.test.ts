import { describe, expect, it } from 'vitest';
import { AppError } from '../../src/errors.js';
import { uuidv7 } from '../../src/domain/ids.js';
import { addItemBodySchema, cartService, cartView, maxLinesPerCart, maxQuantityPerLine, setQuantityBodySchema } from '../../src/domain/cart.js';
import type { Product } from '../../src/domain/products.js';
import { aProduct, inMemoryCarts, inMemoryProducts } from '../support/builders.js';

const user = 'user-1';

function aShop(products: Product[] = [aProduct()]) {
  const repository = inMemoryProducts(products);
  const carts = inMemoryCarts({ maxQuantity: maxQuantityPerLine, maxLines: maxLinesPerCart });
  return { repository, carts, service: cartService(carts, repository), products };
}

async function expectAppError(work: Promise<unknown>, code: AppError['code']): Promise<void> {
  await expect(work).rejects.toSatisfy((error) => error instanceof AppError && error.code === code);
}

describe('cart view', () => {
  it('when lines are priced, then line totals and the total are exact cents and lines are sorted by product id', () => {
    const [a, b] = [aProduct({ priceCents: 1999 }), aProduct({ priceCents: 10 })];
    const view = cartView([
      { product: b!, quantity: 3 },
      { product: a!, quantity: 3 },
    ]);
    expect(view.items.map((item) => item.productId)).toEqual([a!.id, b!.id].sort());
    expect(view.items.find((item) => item.productId === a!.id)).toEqual({ productId: a!.id, name: a!.name, unitPrice: 19.99, quantity: 3, lineTotal: 59.97 });
    expect(view.total).toBe(60.27);
  });

  it('when the cart is empty, then the total is 0', () => {
    expect(cartView([])).toEqual({ items: [], total: 0 });
  });

  it('when many cheap lines add up, then no float error creeps into the total', () => {
    const lines = Array.from({ length: 100 }, () => ({ product: aProduct({ priceCents: 1 }), quantity: 99 }));
    expect(cartView(lines).total).toBe(99);
  });
});

describe('cart bodies', () => {
  it.each([
    [{ productId: uuidv7() }, true],
    [{ productId: uuidv7(), quantity: 99 }, true],
    [{ productId: uuidv7(), quantity: 0 }, false],
    [{ productId: uuidv7(), quantity: 100 }, false],
    [{ productId: uuidv7(), quantity: 1.5 }, false],
    [{ productId: uuidv7(), quantity: '2' }, false],
    [{ productId: 42 }, false],
    [{}, false],
    [{ productId: uuidv7(), userId: 'someone-else' }, false],
    [{ productId: 'p'.repeat(101) }, false],
  ])('when the add body is %j, then valid is %s', (body, valid) => {
    expect(addItemBodySchema.safeParse(body).success).toBe(valid);
  });

  it.each([
    [{ quantity: 0 }, true],
    [{ quantity: 99 }, true],
    [{ quantity: -1 }, false],
    [{ quantity: 100 }, false],
    [{}, false],
    [{ quantity: 1, extra: true }, false],
  ])('when the set body is %j, then valid is %s', (body, valid) => {
    expect(setQuantityBodySchema.safeParse(body).success).toBe(valid);
  });
});

describe('cart service', () => {
  it('when the same product is added twice, then the quantities add up on one line', async () => {
    const { service, products } = aShop();
    await service.add(user, products[0]!.id, 2);
    const cart = await service.add(user, products[0]!.id, 3);
    expect(cart.items).toHaveLength(1);
    expect(cart.items[0]!.quantity).toBe(5);
    expect(cart.total).toBe(99.95);
  });

  it('when an unknown or malformed product is added, then it is a 404 and the cart is unchanged', async () => {
    const { service, carts } = aShop();
    await expectAppError(service.add(user, uuidv7(), 1), 'not_found');
    await expectAppError(service.add(user, "'; DROP TABLE products; --", 1), 'not_found');
    expect((await carts.read(user)).lines).toEqual([]);
  });

  it('when a line would exceed 99, then it is a 409 and the line keeps its quantity', async () => {
    const { service, products } = aShop([aProduct({ stock: 500 })]);
    await service.add(user, products[0]!.id, 98);
    await expectAppError(service.add(user, products[0]!.id, 2), 'cart_quantity_limit');
    expect((await service.view(user)).items[0]!.quantity).toBe(98);
    expect((await service.add(user, products[0]!.id, 1)).items[0]!.quantity).toBe(99);
  });

  it('when an add would take a line beyond the stock, then it is insufficient_stock with the stock available and the cart is unchanged', async () => {
    const { service, carts, products } = aShop([aProduct({ stock: 35 })]);
    await service.add(user, products[0]!.id, 30);
    const refused = await service.add(user, products[0]!.id, 6).catch((error: unknown) => error);
    expect(refused).toMatchObject({ code: 'insufficient_stock', status: 409, extensions: { available: 35 } });
    expect((await carts.read(user)).lines).toEqual([{ productId: products[0]!.id, quantity: 30 }]);
    expect((await service.add(user, products[0]!.id, 5)).items[0]!.quantity).toBe(35);
  });

  it('when a quantity beyond the stock is set, then it is insufficient_stock; the stock itself is allowed; stock 0 refuses even 1', async () => {
    const [some, none] = [aProduct({ stock: 35 }), aProduct({ stock: 0 })];
    const { service, carts } = aShop([some!, none!]);
    await expectAppError(service.setQuantity(user, some!.id, 60), 'insufficient_stock');
    expect((await carts.read(user)).lines).toEqual([]);
    expect((await service.setQuantity(user, some!.id, 35)).items[0]!.quantity).toBe(35);
    await expectAppError(service.add(user, none!.id, 1), 'insufficient_stock');
  });

  it('when the stock drops after a read, then the next add is judged on the stock as it is now', async () => {
    const { service, repository, products } = aShop([aProduct({ stock: 35 })]);
    await service.add(user, products[0]!.id, 1);
    repository.all.set(products[0]!.id, { ...products[0]!, stock: 1 });
    await expectAppError(service.add(user, products[0]!.id, 1), 'insufficient_stock');
  });

  it('when the cart has 100 lines, then a new product is a 409 but an existing line can still grow', async () => {
    const products = Array.from({ length: maxLinesPerCart + 1 }, () => aProduct());
    const { service } = aShop(products);
    for (const product of products.slice(0, maxLinesPerCart)) await service.add(user, product.id, 1);
    await expectAppError(service.add(user, products[maxLinesPerCart]!.id, 1), 'cart_line_limit');
    const cart = await service.add(user, products[0]!.id, 1);
    expect(cart.items).toHaveLength(maxLinesPerCart);
  });

  it('when a quantity is set, then it replaces the line; 0 removes it', async () => {
    const { service, products } = aShop();
    const id = products[0]!.id;
    await service.add(user, id, 5);
    expect((await service.setQuantity(user, id, 2)).items[0]!.quantity).toBe(2);
    expect((await service.setQuantity(user, id, 0)).items).toEqual([]);
  });

  it('when quantity 0 is set or a line is removed for a product not in the cart, then the cart is returned unchanged', async () => {
    const { service } = aShop();
    expect(await service.setQuantity(user, uuidv7(), 0)).toEqual({ items: [], total: 0 });
    expect(await service.setQuantity(user, 'not-an-id', 0)).toEqual({ items: [], total: 0 });
    expect(await service.remove(user, 'not-an-id')).toEqual({ items: [], total: 0 });
  });

  it('when a quantity is set for an unknown product, then it is a 404', async () => {
    const { service } = aShop();
    await expectAppError(service.setQuantity(user, uuidv7(), 3), 'not_found');
  });

  it('when a line is removed, then only that line goes', async () => {
    const products = [aProduct(), aProduct()];
    const { service } = aShop(products);
    await service.add(user, products[0]!.id, 1);
    await service.add(user, products[1]!.id, 1);
    const cart = await service.remove(user, products[0]!.id);
    expect(cart.items.map((item) => item.productId)).toEqual([products[1]!.id]);
  });

  it('when a product in the cart is deleted or repriced, then the cart shows current prices and leaves the deleted one out', async () => {
    const products = [aProduct({ priceCents: 100 }), aProduct({ priceCents: 200 })];
    const { service, repository } = aShop(products);
    await service.add(user, products[0]!.id, 1);
    await service.add(user, products[1]!.id, 1);
    await repository.delete(products[0]!.id);
    await repository.replace(products[1]!.id, { name: 'Renamed', description: '', priceCents: 250, stock: 1 });
    expect(await service.view(user)).toEqual({
      items: [{ productId: products[1]!.id, name: 'Renamed', unitPrice: 2.5, quantity: 1, lineTotal: 2.5 }],
      total: 2.5,
    });
  });

  it("when two users add, then each sees only their own cart", async () => {
    const { service, products } = aShop();
    await service.add('alice', products[0]!.id, 1);
    expect((await service.view('bob')).items).toEqual([]);
    expect((await service.view('alice')).items).toHaveLength(1);
  });
});
