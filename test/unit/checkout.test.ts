import { describe, expect, it } from 'vitest';
import type { CartChange, CartSnapshot, CartStore } from '../../src/domain/cart.js';
import { checkoutService, type CheckoutAccepted, type IdempotencyClaim, type IdempotencyStore } from '../../src/domain/checkout.js';
import type { EventPublisher, OutgoingEvent } from '../../src/domain/events.js';
import type { Product, ProductRepository } from '../../src/domain/products.js';
import { AppError } from '../../src/errors.js';

const aProduct = (overrides: Partial<Product> = {}): Product => ({
  id: '01935e00-0000-7000-8000-000000000001',
  name: 'Beans',
  description: '',
  priceCents: 1250,
  stock: 10,
  createdAt: new Date(0),
  updatedAt: new Date(0),
  ...overrides,
});

// In-memory versions of the domain's own ports: the domain logic is what is under test here.
class MemoryCarts implements CartStore {
  carts = new Map<string, CartSnapshot>();
  async read(userId: string) {
    const cart = this.carts.get(userId) ?? { lines: [], version: 0 };
    return { lines: [...cart.lines], version: cart.version };
  }
  async add(userId: string, productId: string, quantity: number): Promise<CartChange> {
    const cart = await this.read(userId);
    const line = cart.lines.find((l) => l.productId === productId);
    if (line) line.quantity += quantity;
    else cart.lines.push({ productId, quantity });
    this.carts.set(userId, { lines: cart.lines, version: cart.version + 1 });
    return { ok: true, cart: await this.read(userId) };
  }
  set = this.add;
  async remove(userId: string) {
    return this.read(userId);
  }
  async clearIfUnchanged(userId: string, version: number) {
    const cart = this.carts.get(userId);
    if (!cart || cart.version !== version) return false;
    this.carts.set(userId, { lines: [], version: version + 1 });
    return true;
  }
}

const productsOf = (...products: Product[]): ProductRepository => ({
  list: async () => products,
  get: async (id) => products.find((p) => p.id === id),
  getMany: async (ids) => new Map(products.filter((p) => ids.includes(p.id)).map((p) => [p.id, p])),
  create: async () => products[0]!,
  replace: async () => undefined,
  delete: async () => false,
});

class MemoryIdempotency implements IdempotencyStore {
  entries = new Map<string, { fingerprint: string; response?: CheckoutAccepted }>();
  async claim(userId: string, key: string, fingerprint: string): Promise<IdempotencyClaim> {
    const entry = this.entries.get(`${userId}/${key}`);
    if (!entry) {
      this.entries.set(`${userId}/${key}`, { fingerprint });
      return { state: 'claimed' };
    }
    return entry.response ? { state: 'completed', fingerprint: entry.fingerprint, response: entry.response } : { state: 'in_progress', fingerprint: entry.fingerprint };
  }
  async complete(userId: string, key: string, fingerprint: string, response: CheckoutAccepted) {
    this.entries.set(`${userId}/${key}`, { fingerprint, response });
  }
  async release(userId: string, key: string) {
    this.entries.delete(`${userId}/${key}`);
  }
}

class RecordingPublisher implements EventPublisher {
  published: OutgoingEvent[] = [];
  failWith: Error | undefined;
  async publish(events: readonly OutgoingEvent[]) {
    if (this.failWith) throw this.failWith;
    this.published.push(...events);
  }
}

function setup(products: Product[] = [aProduct()]) {
  const carts = new MemoryCarts();
  const publisher = new RecordingPublisher();
  const idempotency = new MemoryIdempotency();
  const service = checkoutService({ carts, products: productsOf(...products), idempotency, publisher });
  const checkout = (overrides: { key?: string; body?: string } = {}) =>
    service.checkout({ userId: 'u1', idempotencyKey: overrides.key, body: overrides.body ?? '', trace: { traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01' } });
  return { carts, publisher, idempotency, checkout };
}

describe('checkout', () => {
  it('when the cart has lines, then CartCheckedOut carries the priced snapshot and the trace, and the cart is emptied', async () => {
    const { carts, publisher, checkout } = setup();
    await carts.add('u1', aProduct().id, 3);
    const accepted = await checkout();
    expect(accepted.status).toBe('PENDING');
    expect(publisher.published).toHaveLength(1);
    const [event] = publisher.published;
    expect(event!.type).toBe('CartCheckedOut');
    expect(event!.trace?.traceparent).toBe('00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01');
    expect(event!.payload).toMatchObject({
      checkoutId: accepted.checkoutId,
      orderId: accepted.orderId,
      userId: 'u1',
      items: [{ productId: aProduct().id, name: 'Beans', unitPrice: 12.5, quantity: 3 }],
      total: 37.5,
    });
    expect((await carts.read('u1')).lines).toEqual([]);
  });

  it('when the cart is empty, then it is a conflict and nothing is published', async () => {
    const { publisher, checkout } = setup();
    await expect(checkout()).rejects.toMatchObject({ code: 'cart_empty' });
    expect(publisher.published).toEqual([]);
  });

  it('when publishing fails, then the error propagates and the cart is intact', async () => {
    const { carts, publisher, checkout } = setup();
    await carts.add('u1', aProduct().id, 1);
    publisher.failWith = new AppError('dependency_unavailable', 'rabbitmq is unavailable');
    await expect(checkout()).rejects.toMatchObject({ status: 503 });
    expect((await carts.read('u1')).lines).toHaveLength(1);
  });

  it('when the cart changes while the event is in flight, then the new items stay', async () => {
    const { carts, publisher, checkout } = setup();
    await carts.add('u1', aProduct().id, 1);
    const publish = publisher.publish.bind(publisher);
    publisher.publish = async (events) => {
      await carts.add('u1', aProduct().id, 5);
      await publish(events);
    };
    await checkout();
    expect((await carts.read('u1')).lines).toEqual([{ productId: aProduct().id, quantity: 6 }]);
  });

  it('when a product in the cart no longer exists, then checkout is refused naming it', async () => {
    const { carts, checkout } = setup([]);
    await carts.add('u1', 'gone-product', 1);
    await expect(checkout()).rejects.toMatchObject({ code: 'cart_products_unavailable', extensions: { unavailableProducts: ['gone-product'] } });
  });

  it('when the same idempotency key comes again, then the first answer is returned and nothing new is published', async () => {
    const { carts, publisher, checkout } = setup();
    await carts.add('u1', aProduct().id, 1);
    const first = await checkout({ key: 'k1' });
    await carts.add('u1', aProduct().id, 1);
    expect(await checkout({ key: 'k1' })).toEqual(first);
    expect(publisher.published).toHaveLength(1);
  });

  it('when the key comes with another body, then 422', async () => {
    const { carts, checkout } = setup();
    await carts.add('u1', aProduct().id, 1);
    await checkout({ key: 'k1', body: '{}' });
    await expect(checkout({ key: 'k1', body: '{"a":1}' })).rejects.toMatchObject({ code: 'idempotency_key_reused', status: 422 });
  });

  it('when publishing fails under a key, then the key is released for a retry', async () => {
    const { carts, publisher, idempotency, checkout } = setup();
    await carts.add('u1', aProduct().id, 1);
    publisher.failWith = new Error('down');
    await expect(checkout({ key: 'k1' })).rejects.toThrow('down');
    expect(idempotency.entries.size).toBe(0);
    publisher.failWith = undefined;
    await expect(checkout({ key: 'k1' })).resolves.toMatchObject({ status: 'PENDING' });
  });

  it('when the total would exceed what an order can hold, then 422 and nothing is published', async () => {
    const { carts, publisher, checkout } = setup([aProduct({ priceCents: 9_999_999_999_99 })]);
    await carts.add('u1', aProduct().id, 2);
    await expect(checkout()).rejects.toMatchObject({ code: 'order_total_too_large' });
    expect(publisher.published).toEqual([]);
  });

  it('when emptying the cart or recording the response fails after the publish, then the checkout is still accepted', async () => {
    const failures: string[] = [];
    const carts = new MemoryCarts();
    const idempotency = new MemoryIdempotency();
    const publisher = new RecordingPublisher();
    carts.clearIfUnchanged = async () => {
      throw new Error('redis down');
    };
    idempotency.complete = async () => {
      throw new Error('redis down');
    };
    const service = checkoutService({ carts, products: productsOf(aProduct()), idempotency, publisher, onAfterPublishFailure: (step) => failures.push(step) });
    await carts.add('u1', aProduct().id, 1);
    await expect(service.checkout({ userId: 'u1', idempotencyKey: 'k', body: '', trace: {} })).resolves.toMatchObject({ status: 'PENDING' });
    expect(publisher.published).toHaveLength(1);
    expect(failures).toEqual(['clear cart', 'record the idempotent response']);
    // The claim stays, so a quick retry with the key cannot place a second order.
    await expect(service.checkout({ userId: 'u1', idempotencyKey: 'k', body: '', trace: {} })).rejects.toMatchObject({ status: 409 });
  });

  it('when the key is not visible ASCII, then 400', async () => {
    const { checkout } = setup();
    await expect(checkout({ key: 'bad key' })).rejects.toMatchObject({ code: 'invalid_request' });
    await expect(checkout({ key: 'x'.repeat(256) })).rejects.toMatchObject({ code: 'invalid_request' });
  });
});
