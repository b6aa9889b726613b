import { app, trigger } from '@azure/functions';
import { consumeEvent } from '../src/app/consumeEvent.js';
import { services } from '../src/app/container.js';
import { queues } from '../src/adapters/rabbitmq/topology.js';
import { annotateInvocation } from '../src/adapters/telemetry/invocation.js';
import { logger } from '../src/adapters/telemetry/logger.js';
import { outgoingTraceContext } from '../src/adapters/telemetry/traceContext.js';
import { orderCreatedSchema } from '../src/domain/events.js';
import { processPayment } from '../src/domain/payments.js';

app.generic('processPayment', {
  trigger: trigger.generic({ type: 'rabbitMQTrigger', queueName: queues.orderCreated, connectionStringSetting: 'RABBITMQ_URL' }),
  handler: (message, context) =>
    consumeEvent(message, context, {
      queue: queues.orderCreated,
      types: ['OrderCreated'],
      schema: orderCreatedSchema,
      handle: async (event, { trace }) => {
        annotateInvocation({ orderId: event.orderId });
        const { orders, paymentProvider } = services();
        const outcome = await processPayment(orders, paymentProvider, event, outgoingTraceContext(trace));
        logger.info('payment processed', { function: context.functionName, orderId: event.orderId, outcome });
      },
    }),
});
