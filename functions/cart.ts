import { z } from 'zod';
import { services } from '../src/app/container.js';
import { annotateInvocation } from '../src/adapters/telemetry/invocation.js';
import { shopMetrics } from '../src/adapters/telemetry/metrics.js';
import { outgoingTraceContext } from '../src/adapters/telemetry/traceContext.js';
import { addItemBodySchema, cartSchema, setQuantityBodySchema } from '../src/domain/cart.js';
import { idempotencyKeyPattern } from '../src/domain/checkout.js';
import { shippingAddressSchema } from '../src/domain/shippingAddress.js';
import { apiRoute } from '../src/http/api.js';

const tags = ['cart'];
const cartResponse = { 200: { description: "The caller's cart, priced now", schema: cartSchema } };

apiRoute('getCart', {
  method: 'GET',
  route: 'cart',
  access: 'user',
  summary: "The caller's cart with current names, prices and totals",
  tags,
  responses: cartResponse,
  handler: async ({ principal }) => ({ status: 200, body: await services().cartService.view(principal.userId) }),
});

apiRoute('addCartItem', {
  method: 'POST',
  route: 'cart/items',
  access: 'user',
  summary: 'Add a product to the cart (quantities of the same product add up)',
  tags,
  body: addItemBodySchema,
  responses: {
    ...cartResponse,
    404: { description: 'No such product' },
    409: { description: 'The line would exceed the stock (`available` gives it) or a cart limit; the cart is unchanged', codes: ['insufficient_stock', 'cart_line_limit', 'cart_quantity_limit'] },
  },
  handler: async ({ principal, body }) => ({ status: 200, body: await services().cartService.add(principal.userId, body.productId, body.quantity ?? 1) }),
});

apiRoute('setCartItem', {
  method: 'PUT',
  route: 'cart/items/{productId}',
  access: 'user',
  summary: "Set a line's quantity (0 removes it)",
  tags,
  body: setQuantityBodySchema,
  responses: {
    ...cartResponse,
    404: { description: 'No such product' },
    409: {
      description: 'The line would exceed the stock (`available` gives it) or a cart limit, or a checkout holds the cart; the cart is unchanged',
      codes: ['insufficient_stock', 'cart_line_limit', 'checkout_in_progress'],
    },
  },
  handler: async ({ principal, params, body }) => ({
    status: 200,
    body: await services().cartService.setQuantity(principal.userId, params.productId!, body.quantity),
  }),
});

apiRoute('removeCartItem', {
  method: 'DELETE',
  route: 'cart/items/{productId}',
  access: 'user',
  summary: 'Remove a line from the cart',
  tags,
  responses: cartResponse,
  handler: async ({ principal, params }) => ({ status: 200, body: await services().cartService.remove(principal.userId, params.productId!) }),
});

const checkoutAcceptedSchema = z.object({ checkoutId: z.string(), orderId: z.string(), status: z.literal('PENDING') });

apiRoute('checkout', {
  method: 'POST',
  route: 'cart/checkout',
  access: 'user',
  summary: 'Check out the cart: the order is placed asynchronously (optional Idempotency-Key header)',
  tags,
  // Other members are ignored; the raw body is what an Idempotency-Key is fingerprinted with.
  body: z.object({ shippingAddress: shippingAddressSchema.nullable().optional() }),
  bodyOptional: true,
  headers: {
    'Idempotency-Key': {
      description: 'Any 1 to 255 visible ASCII characters, new per checkout the client means; a retry with the same key (and body) answers with the same orderId',
      schema: z.string().regex(idempotencyKeyPattern, 'must be 1 to 255 visible ASCII characters'),
    },
  },
  responses: {
    202: { description: 'Accepted; Location names the order', schema: checkoutAcceptedSchema },
    400: { description: 'The shipping address is invalid (each problem named in `errors`)', codes: ['invalid_request'] },
    409: {
      description: 'The cart is empty, holds products that no longer exist, or kept changing during checkout',
      codes: ['cart_empty', 'cart_products_unavailable', 'checkout_in_progress'],
    },
    422: { description: 'The Idempotency-Key was used with a different body, or the total is too large', codes: ['idempotency_key_reused', 'order_total_too_large'] },
    503: { description: 'The database or cache is unavailable; a retry (with any key, or none) answers with the same orderId if the checkout went through' },
  },
  handler: async ({ principal, request, context, rawBody, body }) => {
    const accepted = await services().checkoutService.checkout({
      userId: principal.userId,
      idempotencyKey: request.headers.get('idempotency-key') ?? undefined,
      body: rawBody,
      ...(body?.shippingAddress ? { shippingAddress: body.shippingAddress } : {}),
      ...(principal.email ? { email: principal.email } : {}),
      trace: outgoingTraceContext({ traceparent: request.headers.get('traceparent') ?? context.traceContext?.traceParent ?? undefined }),
    });
    annotateInvocation({ orderId: accepted.orderId, checkoutId: accepted.checkoutId });
    shopMetrics.checkoutAccepted();
    return { status: 202, body: accepted, headers: { location: `/api/orders/${accepted.orderId}` } };
  },
});
