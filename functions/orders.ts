import { app } from '@azure/functions';
import { eventConsumer } from '../src/app/consumeEvent.js';
import { services } from '../src/app/container.js';
import { oldestPendingOrderAgeSeconds } from '../src/adapters/postgres/strandedQueries.js';
import { deadLetterQueueOf, queues } from '../src/adapters/rabbitmq/topology.js';
import { annotateInvocation } from '../src/adapters/telemetry/invocation.js';
import { logger } from '../src/adapters/telemetry/logger.js';
import { observeDeadLetterDepth, observeOldestPendingOrder, observeOutboxBacklog, shopMetrics } from '../src/adapters/telemetry/metrics.js';
import { outgoingTraceContext } from '../src/adapters/telemetry/traceContext.js';
import { applyPaymentResult, cancelOrder, orderSchema, placeOrderFromCheckout } from '../src/domain/orders.js';
import { finishRefund } from '../src/domain/payments.js';
import { resolveStrandedOrders } from '../src/domain/recovery.js';
import { apiRoute } from '../src/http/api.js';
import { pageOf, pageQuerySchema } from '../src/http/schemas.js';

const tags = ['orders'];

apiRoute('listOrders', {
  method: 'GET',
  route: 'orders',
  access: 'user',
  summary: "The caller's orders, newest first",
  tags,
  query: pageQuerySchema,
  responses: { 200: { description: 'A page of orders', schema: pageOf(orderSchema) } },
  handler: async ({ principal, query }) => ({ status: 200, body: await services().orderQueries.list(principal.userId, query.limit, query.cursor) }),
});

apiRoute('getOrder', {
  method: 'GET',
  route: 'orders/{id}',
  access: 'authenticated',
  summary: "An order of the caller's (any order with Orders.Read.All)",
  tags,
  responses: { 200: { description: 'The order with its items and payment', schema: orderSchema }, 404: { description: 'No such order for this caller' } },
  handler: async ({ principal, params }) => ({
    status: 200,
    body: await services().orderQueries.get(params.id!, { userId: principal.userId, canReadAll: principal.roles.includes('Orders.Read.All') }),
  }),
});

/** Finishes a refund a cancel started; a failure is left to the resolver, which finishes it once the refund's lease expires. */
async function refundNow(paymentId: string, functionName: string): Promise<void> {
  const { orders, paymentProvider, paymentPolicy } = services();
  try {
    const outcome = await finishRefund(orders, paymentProvider, paymentId, paymentPolicy);
    logger.info('refund handled', { function: functionName, paymentId, outcome });
  } catch (error) {
    logger.warn('could not finish a refund now; the resolver finishes it', { function: functionName, paymentId, error });
  }
}

apiRoute('cancelOrder', {
  method: 'POST',
  route: 'orders/{id}/cancel',
  access: 'user',
  summary: "Cancel an order of the caller's (PENDING or PAID): its stock comes back and a charged payment is refunded once",
  tags,
  responses: {
    202: {
      description:
        'The order: CANCELLED (cancelReason customer), its payment REFUNDED with refundedAt (REFUNDING until the provider answers); or PENDING with cancelRequested while its payment is in flight, cancelled (and refunded) once the result is known. Cancelling again answers the same order',
      schema: orderSchema,
    },
    404: { description: 'No such order for this caller' },
    409: { description: 'The order is PAYMENT_FAILED or REJECTED', codes: ['order_not_cancellable'] },
  },
  handler: async ({ principal, params, context }) => {
    const { orders } = services();
    const cancelled = await cancelOrder(orders, params.id!, principal.userId);
    annotateInvocation({ orderId: cancelled.order.id });
    if (!cancelled.refundOf) return { status: 202, body: cancelled.order };
    await refundNow(cancelled.refundOf, context.functionName);
    return { status: 202, body: await services().orderQueries.get(cancelled.order.id, { userId: principal.userId, canReadAll: false }) };
  },
});

eventConsumer('placeOrder', {
  queue: queues.cartCheckedOut,
  handle: async (event, { trace }, context) => {
    annotateInvocation({ orderId: event.orderId, checkoutId: event.checkoutId });
    const outcome = await placeOrderFromCheckout(services().orders, event, outgoingTraceContext(trace));
    if (outcome === 'rejected') shopMetrics.orderCompleted('REJECTED', new Date(event.occurredAt));
    logger.info('checkout handled', { function: context.functionName, checkoutId: event.checkoutId, orderId: event.orderId, outcome });
  },
});

eventConsumer('applyPayment', {
  queue: queues.paymentProcessed,
  handle: async (event, { type, trace }, context) => {
    annotateInvocation({ orderId: event.orderId });
    const outcome = await applyPaymentResult(services().orders, type, event, outgoingTraceContext(trace));
    if (outcome) shopMetrics.orderCompleted(outcome.status, outcome.checkedOutAt);
    if (outcome?.refundOf) await refundNow(outcome.refundOf, context.functionName);
    logger.info('payment result applied', { function: context.functionName, orderId: event.orderId, status: outcome?.status ?? 'unchanged' });
  },
});

observeOutboxBacklog(() => services().relay.backlog());
// What the "orders stuck" and "dead letters waiting" alerts watch (infra/modules/alerts.bicep).
observeOldestPendingOrder(() => oldestPendingOrderAgeSeconds(services().db));
observeDeadLetterDepth(() => services().queueMonitor.messageCounts(Object.values(queues).map(deadLetterQueueOf)));

// Finds checkouts and orders stranded by dead-lettered or lost messages and finishes them (see
// resolveStrandedOrders); every instance may run it: each action is a conditional transaction.
app.timer('resolveStrandedOrders', {
  schedule: '*/15 * * * * *',
  handler: async (_timer, context) => {
    const { orders, stranded, paymentProvider, paymentPolicy, settings, checkoutLedger } = services();
    const done = await resolveStrandedOrders({
      orders,
      stranded,
      provider: paymentProvider,
      bounds: { redriveAfterSeconds: settings.ORDER_REDRIVE_AFTER_SECONDS, cancelAfterSeconds: settings.ORDER_CANCEL_AFTER_SECONDS },
      payments: paymentPolicy,
      onItemFailure: (orderId, error) => logger.warn('could not resolve a stranded order; the next run tries again', { function: context.functionName, orderId, error }),
    });
    for (const [action, count] of Object.entries(done)) shopMetrics.ordersRecovered(action, count);
    if (Object.values(done).some((count) => count > 0)) logger.warn('stranded checkouts and orders resolved', { function: context.functionName, ...done });
    await checkoutLedger.pruneExpiredKeys(1_000);
  },
});

// Publishes outbox rows a crash or an outage left unsent after their transaction committed.
app.timer('outboxSweep', {
  schedule: '*/10 * * * * *',
  handler: async (_timer, context) => {
    const published = await services().relay.sweepDue(8_000);
    if (published > 0) logger.info('outbox sweep published events', { function: context.functionName, published });
  },
});
