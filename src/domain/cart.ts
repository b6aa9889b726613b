import { z } from 'zod';
import { AppError } from '../errors.js';
import { isUuid } from './ids.js';
import { numberFromCents } from './money.js';
import { notFoundProduct, type Product, type ProductRepository } from './products.js';

export const maxQuantityPerLine = 99;
export const maxLinesPerCart = 100;

export interface CartLine {
  productId: string;
  quantity: number;
}

export interface CartSnapshot {
  lines: CartLine[];
  /** Bumped by every change; checkout empties the cart only if it is still the version it read. */
  version: number;
}

export type CartChange = { ok: true } | { ok: false; reason: 'quantity_limit'; current: number } | { ok: false; reason: 'line_limit' };

/** A user's cart: product -> quantity. Every change is atomic, so concurrent changes never lose one another. */
export interface CartStore {
  read(userId: string): Promise<CartSnapshot>;
  add(userId: string, productId: string, quantity: number): Promise<CartChange>;
  set(userId: string, productId: string, quantity: number): Promise<CartChange>;
  remove(userId: string, productId: string): Promise<void>;
  /** Empties the cart if its version is still `version`; false when it changed meanwhile. */
  clearIfUnchanged(userId: string, version: number): Promise<boolean>;
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
  product: Product;
  quantity: number;
}

/** The cart's lines with current products; lines whose product was deleted are left out. */
export async function priceLines(lines: readonly CartLine[], products: ProductRepository): Promise<PricedLine[]> {
  const found = await products.getMany(lines.map((line) => line.productId));
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

function rejectChange(change: CartChange): void {
  if (change.ok) return;
  if (change.reason === 'line_limit') throw new AppError('conflict', `A cart holds at most ${maxLinesPerCart} different products`);
  throw new AppError('conflict', `A cart line holds at most ${maxQuantityPerLine} items (this line has ${change.current})`);
}

export function cartService(carts: CartStore, products: ProductRepository) {
  const view = async (userId: string) => cartView(await priceLines((await carts.read(userId)).lines, products));
  const requireProduct = async (productId: string) => {
    if (!isUuid(productId) || !(await products.get(productId))) throw notFoundProduct(productId);
  };

  return {
    view,

    async add(userId: string, productId: string, quantity: number): Promise<CartView> {
      await requireProduct(productId);
      rejectChange(await carts.add(userId, productId, quantity));
      return view(userId);
    },

    async setQuantity(userId: string, productId: string, quantity: number): Promise<CartView> {
      if (quantity === 0) {
        if (isUuid(productId)) await carts.remove(userId, productId);
      } else {
        await requireProduct(productId);
        rejectChange(await carts.set(userId, productId, quantity));
      }
      return view(userId);
    },

    async remove(userId: string, productId: string): Promise<CartView> {
      if (isUuid(productId)) await carts.remove(userId, productId);
      return view(userId);
    },
  };
}

export type CartService = ReturnType<typeof cartService>;
