import { eventConsumer } from '../src/app/consumeEvent.js';
import { services } from '../src/app/container.js';
import { queues } from '../src/adapters/rabbitmq/topology.js';
import { annotateInvocation } from '../src/adapters/telemetry/invocation.js';
import { logger } from '../src/adapters/telemetry/logger.js';
import { outgoingTraceContext } from '../src/adapters/telemetry/traceContext.js';
import { processPayment } from '../src/domain/payments.js';

eventConsumer('processPayment', {
  queue: queues.orderCreated,
  handle: async (event, { trace, attemptId }, context) => {
    annotateInvocation({ orderId: event.orderId });
    const { orders, paymentProvider, paymentPolicy } = services();
    const outcome = await processPayment(orders, paymentProvider, event, outgoingTraceContext(trace), attemptId, paymentPolicy);
    logger.info('payment processed', { function: context.functionName, orderId: event.orderId, outcome });
  },
});
