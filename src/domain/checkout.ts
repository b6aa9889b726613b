import { createHash } from 'node:crypto';
import { AppError } from '../errors.js';
import { priceLines, type CartLine } from './cart.js';
import type { CartCheckedOut, TraceContext } from './events.js';
import { uuidv7 } from './ids.js';
import { maxCents, numberFromCents } from './money.js';
import type { ProductCatalog } from './products.js';
import type { ShippingAddress } from './shippingAddress.js';

export interface CheckoutAccepted {
  checkoutId: string;
  orderId: string;
  status: 'PENDING';
}

/** An Idempotency-Key as stored: hashed (it is arbitrary client text), with the fingerprint of its body. */
export interface RequestKey {
  keyHash: string;
  fingerprint: string;
}

/**
 * A cart's checkout in flight. Claiming is atomic with a check of the cart's version, so one cart has
 * at most one claim; every request that finds the claim answers with its ids. Its lines are the
 * quantities it orders: they leave the cart only once the checkout is accepted, and only they do.
 */
export interface CheckoutClaim {
  checkoutId: string;
  orderId: string;
  lines: CartLine[];
  event: CartCheckedOut;
  /** When it was claimed (ms since the epoch): a claim far older than a request is left from a crash. */
  claimedAt: number;
  /** The key of the request that claimed it, if it sent one. */
  key?: RequestKey;
}

export type ClaimResult = { ok: true } | { ok: false; reason: 'changed' } | { ok: false; reason: 'claimed'; claim: CheckoutClaim };

/** The cart-side half of checkout (Redis): the claim and, once accepted, taking its lines out. */
export interface CheckoutClaims {
  /** The cart's lines, version and its claim, read together. */
  readForCheckout(userId: string): Promise<{ lines: CartLine[]; version: number; claim: CheckoutClaim | undefined }>;
  /** Claims the cart if its version is still `version` and it has no claim. */
  claim(userId: string, version: number, claim: CheckoutClaim): Promise<ClaimResult>;
  /** Subtracts the claim's lines from the cart and drops the claim; a no-op unless `checkoutId` holds the claim. */
  complete(userId: string, checkoutId: string): Promise<void>;
  /** Drops the claim (it was abandoned: nothing was ordered); a no-op unless `checkoutId` holds it. */
  release(userId: string, checkoutId: string): Promise<void>;
}

export type AcceptOutcome = { state: 'accepted' } | { state: 'abandoned' } | { state: 'key_conflict'; recorded: { fingerprint: string; accepted: CheckoutAccepted } };

/** The durable half of checkout (Postgres): accepted checkouts, their CartCheckedOut and the request keys. */
export interface CheckoutLedger {
  /** What a request with this key got before (within the keys' lifetime). */
  findByKey(userId: string, keyHash: string): Promise<{ fingerprint: string; accepted: CheckoutAccepted } | undefined>;
  /**
   * Records the claim as accepted with its CartCheckedOut in the outbox, in one transaction, unless it is
   * recorded already (then nothing new is written) or was abandoned; records `key` for it too. When the
   * key already names another answer, nothing is written and that answer is returned.
   */
  accept(userId: string, claim: CheckoutClaim, key: RequestKey | undefined, trace: TraceContext): Promise<AcceptOutcome>;
  /** Gives a stale claim up unless it was accepted (its order placed or not); answers which of the two it is now. */
  abandon(userId: string, claim: CheckoutClaim): Promise<'accepted' | 'abandoned'>;
  /** Forgets up to `limit` Idempotency-Keys past their lifetime; answers how many. */
  pruneExpiredKeys(limit: number): Promise<number>;
}

export interface CheckoutRequest {
  userId: string;
  idempotencyKey: string | undefined;
  /** The raw request body ('' when none): the same key with another body is refused. */
  body: string;
  /** Validated: where the order goes. A request that joins a checkout in flight keeps that checkout's address. */
  shippingAddress?: ShippingAddress;
  /** The customer's email address (from the token), for the order's notifications. */
  email?: string;
  trace: TraceContext;
}

export const idempotencyKeyPattern = /^[\x21-\x7e]{1,255}$/;

/**
 * A claim older than this is not held by a live request: a checkout takes milliseconds, and its store
 * calls time out well within it (Postgres: 3 s to connect, 10 s a statement), with room for clock skew
 * between instances. Until then a retry joins the claim; after it, it was left by a crash.
 */
export const staleClaimMs = 30_000;

/** Tries before giving up on a cart that keeps changing under the checkout. */
const maxClaimAttempts = 5;

export interface CheckoutDependencies {
  claims: CheckoutClaims;
  ledger: CheckoutLedger;
  products: ProductCatalog;
  now?: () => number;
  /** Told about a failure after the checkout was accepted; the checkout still succeeds. */
  onAfterAcceptFailure?: (step: string, error: unknown) => void;
}

const acceptedOf = (claim: CheckoutClaim): CheckoutAccepted => ({ checkoutId: claim.checkoutId, orderId: claim.orderId, status: 'PENDING' });

const keyReused = () => new AppError('idempotency_key_reused', 'This Idempotency-Key was already used with a different request body');

/**
 * Checkout as a claim on the cart: (1) claim the cart atomically with the version its lines were priced
 * at, choosing the checkout's ids; (2) record the claim as accepted in Postgres with CartCheckedOut in
 * the outbox; (3) take exactly the claimed lines out of the cart and drop the claim. Every request that
 * finds a claim joins it (same ids), so double clicks and tabs make one order; a retry after a failure
 * at any step finds the claim, or the accepted record, and answers with the same orderId.
 */
export function checkoutService(deps: CheckoutDependencies) {
  const now = deps.now ?? Date.now;

  async function newClaim(request: CheckoutRequest, lines: CartLine[], key: RequestKey | undefined): Promise<CheckoutClaim> {
    const { userId } = request;
    const priced = await priceLines(lines, deps.products);
    if (priced.length < lines.length) {
      const gone = lines.filter((line) => !priced.some((p) => p.product.id === line.productId)).map((line) => line.productId);
      throw new AppError('cart_products_unavailable', `Some products in the cart no longer exist: ${gone.join(', ')}; remove them and try again`, {
        extensions: { unavailableProducts: gone },
      });
    }
    const totalCents = priced.reduce((sum, { product, quantity }) => sum + product.priceCents * quantity, 0);
    if (totalCents > maxCents) throw new AppError('order_total_too_large', `The order total exceeds the largest amount an order can hold (${numberFromCents(maxCents)})`);
    const checkoutId = uuidv7();
    const orderId = uuidv7();
    return {
      checkoutId,
      orderId,
      lines,
      claimedAt: now(),
      ...(key ? { key } : {}),
      event: {
        checkoutId,
        orderId,
        userId,
        items: priced.map(({ product, quantity }) => ({ productId: product.id, name: product.name, unitPrice: numberFromCents(product.priceCents), quantity })),
        total: numberFromCents(totalCents),
        ...(request.shippingAddress ? { shippingAddress: request.shippingAddress } : {}),
        ...(request.email ? { email: request.email } : {}),
        occurredAt: new Date(now()).toISOString(),
      },
    };
  }

  /**
   * Steps (2) and (3) for a claim this request made (`own`) or found; idempotent, so any request may
   * run them. Undefined when the claim was abandoned before it could be accepted.
   */
  async function accept(userId: string, claim: CheckoutClaim, key: RequestKey | undefined, trace: TraceContext, own: boolean): Promise<CheckoutAccepted | undefined> {
    // A failure here is answered 503 with the claim kept: a retry joins it and gets the same orderId.
    const outcome = await deps.ledger.accept(userId, claim, key, trace);
    // Given up meanwhile (stale, or rolled back by a request whose key had already answered): nothing
    // was ordered under it, and the caller claims the cart afresh.
    if (outcome.state === 'abandoned') return undefined;
    if (outcome.state === 'key_conflict') {
      // The key already answered (a concurrent request with it won): this request orders nothing. A
      // claim it made itself is given up (or finished, if a keyless request joined and accepted it).
      if (own) await settle(userId, claim);
      if (outcome.recorded.fingerprint !== key?.fingerprint) throw keyReused();
      return outcome.recorded.accepted;
    }
    // The order exists from here: a failure to take the lines out of the cart must not become an error
    // the client would retry. The claim stays, and the next checkout or cart read settles it.
    await deps.claims.complete(userId, claim.checkoutId).catch((error: unknown) => deps.onAfterAcceptFailure?.('take the ordered lines out of the cart', error));
    return acceptedOf(claim);
  }

  /** What an earlier request with this key was answered; a key reused with another body is refused. */
  async function answerOfKey(userId: string, key: RequestKey): Promise<CheckoutAccepted | undefined> {
    const recorded = await deps.ledger.findByKey(userId, key.keyHash);
    if (recorded && recorded.fingerprint !== key.fingerprint) throw keyReused();
    return recorded?.accepted;
  }

  /** A claim left by a crashed request: its checkout goes on if it was accepted, else it is given up. */
  async function settle(userId: string, claim: CheckoutClaim): Promise<'accepted' | 'abandoned'> {
    const state = await deps.ledger.abandon(userId, claim);
    if (state === 'accepted') await deps.claims.complete(userId, claim.checkoutId);
    else await deps.claims.release(userId, claim.checkoutId);
    return state;
  }

  return {
    async checkout(request: CheckoutRequest): Promise<CheckoutAccepted> {
      let key: RequestKey | undefined;
      if (request.idempotencyKey !== undefined) {
        if (!idempotencyKeyPattern.test(request.idempotencyKey)) throw new AppError('invalid_request', 'Idempotency-Key must be 1 to 255 visible ASCII characters');
        key = {
          keyHash: createHash('sha256').update(request.idempotencyKey).digest('base64url'),
          fingerprint: createHash('sha256').update(request.body).digest('base64url'),
        };
      }
      // A key that answered before is not looked up first: the first checkout emptied the cart (the
      // key's answer is looked up there), or its claim is joined, or the accept finds the key taken
      // (key_conflict: this request's own claim is given up and the first answer returned). A new
      // checkout, the usual case, spends no statement on its key.

      for (let attempt = 0; attempt < maxClaimAttempts; attempt++) {
        const cart = await deps.claims.readForCheckout(request.userId);
        if (cart.claim) {
          if (cart.claim.key && key && cart.claim.key.keyHash === key.keyHash && cart.claim.key.fingerprint !== key.fingerprint) throw keyReused();
          // A live claim is joined; one left by a crash is this cart's checkout if it was accepted.
          const joinable = now() - cart.claim.claimedAt < staleClaimMs || (await settle(request.userId, cart.claim)) === 'accepted';
          const answer = joinable && (await accept(request.userId, cart.claim, key, request.trace, false));
          if (answer) return answer;
          continue;
        }
        if (cart.lines.length === 0) {
          // A request with the same key may have emptied the cart: its answer is this one's.
          const recorded = key && (await answerOfKey(request.userId, key));
          if (recorded) return recorded;
          throw new AppError('cart_empty', 'The cart is empty: add items before checking out');
        }
        const claim = await newClaim(request, cart.lines, key);
        const claimed = await deps.claims.claim(request.userId, cart.version, claim);
        // Changed since it was read (an add, another tab's claim): read again; a claim found is joined.
        const answer = claimed.ok && (await accept(request.userId, claim, key, request.trace, true));
        if (answer) return answer;
      }
      throw new AppError('checkout_in_progress', 'The cart kept changing during checkout; retry shortly', { headers: { 'Retry-After': '1' } });
    },

    /** Settles a claim left by a crash (called when a cart is read), so ordered lines leave the cart; false for a live claim. */
    async settleStaleClaim(userId: string, claim: CheckoutClaim): Promise<boolean> {
      if (now() - claim.claimedAt < staleClaimMs) return false;
      await settle(userId, claim);
      return true;
    },
  };
}

export type CheckoutService = ReturnType<typeof checkoutService>;
