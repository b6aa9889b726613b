import { eventConsumer } from '../src/app/consumeEvent.js';
import { services } from '../src/app/container.js';
import { queues } from '../src/adapters/rabbitmq/topology.js';
import { annotateInvocation } from '../src/adapters/telemetry/invocation.js';
import { logger } from '../src/adapters/telemetry/logger.js';
import { notifyCustomer } from '../src/domain/notifications.js';

eventConsumer('notifyCustomer', {
  queue: queues.orderNotifications,
  handle: async (event, { type }, context) => {
    annotateInvocation({ orderId: event.orderId });
    const { notificationLedger, notifier } = services();
    const outcome = await notifyCustomer({ ledger: notificationLedger, notifier }, type, event);
    logger.info('customer notified', { function: context.functionName, orderId: event.orderId, type, outcome });
  },
});
