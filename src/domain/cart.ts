import { z } from 'zod';
import { AppError } from '../errors.js';
import type { CheckoutClaim } from './checkout.js';
import { isUuid } from './ids.js';
import { numberFromCents } from './money.js';
import { notFoundProduct, type CatalogEntry, type ProductCatalog } from './products.js';

export const maxQuantityPerLine = 99;
export const maxLinesPerCart = 100;

export interface CartLine {
  productId: string;
  quantity: number;
}

export interface CartSnapshot {
  lines: CartLine[];
  /** Bumped by every change; checkout claims the cart only if it is still the version it priced. */
  version: number;
  /** The checkout in flight, if any (its lines are still in the cart until it is accepted). */
  claim?: CheckoutClaim | undefined;
}

/**
 * A change's outcome: the cart as it is after the change, or what refused it: a limit, or a checkout
 * holding the cart (setting or removing a line then would race the claim's subtraction; adding is fine).
 */
export type CartChange =
  | { ok: true; cart: CartSnapshot }
  | { ok: false; reason: 'quantity_limit'; current: number }
  | { ok: false; reason: 'insufficient_stock'; available: number }
  | { ok: false; reason: 'line_limit' }
  | { ok: false; reason: 'checkout_in_progress'; claim: CheckoutClaim };

/**
 * A user's cart: product -> quantity. Every change is atomic, so concurrent changes never lose one
 * another, and answers with the resulting cart, so no second read is needed.
 */
export interface CartStore {
  read(userId: string): Promise<CartSnapshot>;
  /** Adds to the line unless it would then hold more than `stock` units (or the line limit). */
  add(userId: string, productId: string, quantity: number, stock: number): Promise<CartChange>;
  /** Sets the line unless it would then hold more than `stock` units (or the line limit). */
  set(userId: string, productId: string, quantity: number, stock: number): Promise<CartChange>;
  remove(userId: string, productId: string): Promise<CartChange>;
}

export const addItemBodySchema = z.strictObject({
  productId: z.string().max(100),
  quantity: z.int().min(1).max(maxQuantityPerLine).optional(),
});

export const setQuantityBodySchema = z.strictObject({
  quantity: z.int().min(0).max(maxQuantityPerLine),
});

export const cartSchema = z.object({
  items: z.array(
    z.object({ productId: z.string(), name: z.string(), unitPrice: z.number(), quantity: z.int(), lineTotal: z.number() }),
  ),
  total: z.number(),
});

export type CartView = z.infer<typeof cartSchema>;

export interface PricedLine {
  product: CatalogEntry;
  quantity: number;
}

/**
 * The cart's lines with current products; lines whose product was deleted are left out. Products
 * the caller has just read are passed as `known` and not fetched again.
 */
export async function priceLines(lines: readonly CartLine[], products: ProductCatalog, known: readonly CatalogEntry[] = []): Promise<PricedLine[]> {
  const found = new Map(known.map((product) => [product.id, product]));
  const missing = lines.map((line) => line.productId).filter((id) => !found.has(id));
  if (missing.length > 0) for (const [id, product] of await products.getMany(missing)) found.set(id, product);
  return lines.flatMap((line) => {
    const product = found.get(line.productId);
    return product ? [{ product, quantity: line.quantity }] : [];
  });
}

export function cartView(lines: readonly PricedLine[]): CartView {
  const items = lines
    .map(({ product, quantity }) => ({
      productId: product.id,
      name: product.name,
      unitPrice: numberFromCents(product.priceCents),
      quantity,
      lineTotal: numberFromCents(product.priceCents * quantity),
    }))
    .sort((a, b) => a.productId.localeCompare(b.productId));
  const totalCents = lines.reduce((sum, { product, quantity }) => sum + product.priceCents * quantity, 0);
  return { items, total: numberFromCents(totalCents) };
}

function changedCart(change: CartChange): CartSnapshot {
  if (change.ok) return change.cart;
  if (change.reason === 'insufficient_stock') {
    throw new AppError('insufficient_stock', `Only ${change.available} in stock`, { extensions: { available: change.available } });
  }
  if (change.reason === 'line_limit') throw new AppError('cart_line_limit', `A cart holds at most ${maxLinesPerCart} different products`);
  if (change.reason === 'checkout_in_progress') {
    throw new AppError('checkout_in_progress', 'A checkout of this cart is being placed; change it again in a moment', { headers: { 'Retry-After': '1' } });
  }
  throw new AppError('cart_quantity_limit', `A cart line holds at most ${maxQuantityPerLine} items (this line has ${change.current})`);
}

/**
 * `settleStaleClaim` finishes or gives up a checkout claim a crash left on the cart, so a cart read
 * never shows lines that were ordered.
 */
export function cartService(carts: CartStore, products: ProductCatalog, settleStaleClaim: (userId: string, claim: CheckoutClaim) => Promise<boolean> = async () => false) {
  const priced = async (cart: CartSnapshot, known: readonly CatalogEntry[] = []) => cartView(await priceLines(cart.lines, products, known));
  /** The product and its stock as it is now: a line may hold at most that many (checkout still reserves at payment). */
  const requireProduct = async (productId: string): Promise<{ product: CatalogEntry; stock: number }> => {
    const [product, stock] = isUuid(productId) ? await Promise.all([products.get(productId), products.stockOf(productId)]) : [];
    if (!product || stock === undefined) throw notFoundProduct(productId);
    return { product, stock };
  };
  /** Runs a change; one refused by a claim a crash left behind is tried again once that claim is settled. */
  const settlingClaim = async (userId: string, change: () => Promise<CartChange>): Promise<CartSnapshot> => {
    const first = await change();
    if (first.ok || first.reason !== 'checkout_in_progress' || !(await settleStaleClaim(userId, first.claim))) return changedCart(first);
    return changedCart(await change());
  };
  const remove = async (userId: string, productId: string) =>
    priced(isUuid(productId) ? await settlingClaim(userId, () => carts.remove(userId, productId)) : await carts.read(userId));

  return {
    async view(userId: string): Promise<CartView> {
      const cart = await carts.read(userId);
      // A live checkout's lines show until it completes; only a claim a crash left is settled first.
      if (!cart.claim || !(await settleStaleClaim(userId, cart.claim))) return priced(cart);
      return priced(await carts.read(userId));
    },

    async add(userId: string, productId: string, quantity: number): Promise<CartView> {
      const { product, stock } = await requireProduct(productId);
      return priced(changedCart(await carts.add(userId, productId, quantity, stock)), [product]);
    },

    async setQuantity(userId: string, productId: string, quantity: number): Promise<CartView> {
      if (quantity === 0) return remove(userId, productId);
      const { product, stock } = await requireProduct(productId);
      return priced(await settlingClaim(userId, () => carts.set(userId, productId, quantity, stock)), [product]);
    },

    remove,
  };
}

export type CartService = ReturnType<typeof cartService>;
