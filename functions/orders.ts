import { app } from '@azure/functions';
import { eventConsumer } from '../src/app/consumeEvent.js';
import { services } from '../src/app/container.js';
import { queues } from '../src/adapters/rabbitmq/topology.js';
import { annotateInvocation } from '../src/adapters/telemetry/invocation.js';
import { logger } from '../src/adapters/telemetry/logger.js';
import { observeOutboxBacklog, shopMetrics } from '../src/adapters/telemetry/metrics.js';
import { outgoingTraceContext } from '../src/adapters/telemetry/traceContext.js';
import { applyPaymentResult, orderSchema, placeOrderFromCheckout } from '../src/domain/orders.js';
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
    logger.info('payment result applied', { function: context.functionName, orderId: event.orderId, status: outcome?.status ?? 'unchanged' });
  },
});

observeOutboxBacklog(() => services().relay.backlog());

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
