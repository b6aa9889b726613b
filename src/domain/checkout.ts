import { createHash } from 'node:crypto';
import { AppError } from '../errors.js';
import { priceLines, type CartStore } from './cart.js';
import type { CartCheckedOut, EventPublisher, TraceContext } from './events.js';
import { uuidv7 } from './ids.js';
import { maxCents, numberFromCents } from './money.js';
import type { ProductCatalog } from './products.js';

export interface CheckoutAccepted {
  checkoutId: string;
  orderId: string;
  status: 'PENDING';
}

export type IdempotencyClaim =
  | { state: 'claimed' }
  | { state: 'completed'; fingerprint: string; response: CheckoutAccepted }
  | { state: 'in_progress'; fingerprint: string };

/** Remembers, per user and Idempotency-Key, the request's fingerprint and the response it got. */
export interface IdempotencyStore {
  /** Claims the key for a new request, or tells what an earlier request with the key did. */
  claim(userId: string, key: string, fingerprint: string): Promise<IdempotencyClaim>;
  complete(userId: string, key: string, fingerprint: string, response: CheckoutAccepted): Promise<void>;
  /** Frees a claimed key after a failure, so the client can retry with it. */
  release(userId: string, key: string): Promise<void>;
}

export interface CheckoutRequest {
  userId: string;
  idempotencyKey: string | undefined;
  /** The raw request body ('' when none): the same key with another body is refused. */
  body: string;
  trace: TraceContext;
}

export const idempotencyKeyPattern = /^[\x21-\x7e]{1,255}$/;

export interface CheckoutDependencies {
  carts: CartStore;
  products: ProductCatalog;
  idempotency: IdempotencyStore;
  publisher: EventPublisher;
  /** Told about a failure after CartCheckedOut was confirmed; the checkout still succeeds. */
  onAfterPublishFailure?: (step: string, error: unknown) => void;
}

export function checkoutService(deps: CheckoutDependencies) {
  async function placeOrder(request: CheckoutRequest): Promise<CheckoutAccepted> {
    const snapshot = await deps.carts.read(request.userId);
    if (snapshot.lines.length === 0) throw new AppError('cart_empty', 'The cart is empty: add items before checking out');
    const lines = await priceLines(snapshot.lines, deps.products);
    if (lines.length < snapshot.lines.length) {
      const gone = snapshot.lines.filter((line) => !lines.some((priced) => priced.product.id === line.productId)).map((line) => line.productId);
      throw new AppError('cart_products_unavailable', `Some products in the cart no longer exist: ${gone.join(', ')}; remove them and try again`, {
        extensions: { unavailableProducts: gone },
      });
    }

    const totalCents = lines.reduce((sum, { product, quantity }) => sum + product.priceCents * quantity, 0);
    if (totalCents > maxCents) throw new AppError('order_total_too_large', `The order total exceeds the largest amount an order can hold (${numberFromCents(maxCents)})`);

    const accepted: CheckoutAccepted = { checkoutId: uuidv7(), orderId: uuidv7(), status: 'PENDING' };
    const event: CartCheckedOut = {
      checkoutId: accepted.checkoutId,
      orderId: accepted.orderId,
      userId: request.userId,
      items: lines.map(({ product, quantity }) => ({ productId: product.id, name: product.name, unitPrice: numberFromCents(product.priceCents), quantity })),
      total: numberFromCents(totalCents),
      occurredAt: new Date().toISOString(),
    };
    // Confirmed by the broker before anything else changes: a failure here leaves the cart as it was.
    await deps.publisher.publish([{ id: uuidv7(), type: 'CartCheckedOut', payload: event, trace: request.trace }]);
    // From here the order exists: a failure to empty the cart must not turn it into an error the
    // client would retry. Items added while the event was in flight stay for a later checkout.
    await deps.carts.clearIfUnchanged(request.userId, snapshot.version).catch((error: unknown) => deps.onAfterPublishFailure?.('clear cart', error));
    return accepted;
  }

  return {
    async checkout(request: CheckoutRequest): Promise<CheckoutAccepted> {
      const key = request.idempotencyKey;
      if (key === undefined) return placeOrder(request);
      if (!idempotencyKeyPattern.test(key)) throw new AppError('invalid_request', 'Idempotency-Key must be 1 to 255 visible ASCII characters');

      const fingerprint = createHash('sha256').update(request.body).digest('base64url');
      const claim = await deps.idempotency.claim(request.userId, key, fingerprint);
      if (claim.state !== 'claimed') {
        if (claim.fingerprint !== fingerprint) {
          throw new AppError('idempotency_key_reused', 'This Idempotency-Key was already used with a different request body');
        }
        if (claim.state === 'in_progress') {
          throw new AppError('checkout_in_progress', 'A request with this Idempotency-Key is still being processed; retry shortly', { headers: { 'Retry-After': '1' } });
        }
        return claim.response;
      }
      let accepted: CheckoutAccepted;
      try {
        accepted = await placeOrder(request);
      } catch (error) {
        // Nothing was published: the client may retry with the same key at once.
        await deps.idempotency.release(request.userId, key).catch(() => undefined);
        throw error;
      }
      // If this fails the claim stays (until it expires), so a retry cannot place a second order soon;
      // the order was accepted either way.
      await deps.idempotency.complete(request.userId, key, fingerprint, accepted).catch((error: unknown) => deps.onAfterPublishFailure?.('record the idempotent response', error));
      return accepted;
    },
  };
}

export type CheckoutService = ReturnType<typeof checkoutService>;
