import { app } from '@azure/functions';
import { bindings } from '../src/adapters/rabbitmq/topology.js';
import { logger } from '../src/adapters/telemetry/logger.js';
import { services } from '../src/app/container.js';
import { watchConsumersOnce } from '../src/app/consumerWatchdog.js';
import { settings } from '../src/config.js';

/** The queues the app's RabbitMQ-triggered functions consume. */
const triggerQueues = Object.keys(bindings);

// The consumer watchdog (docs/deploy.md, section 2): a trigger queue without a consumer while the broker
// answers means the host disabled or lost that trigger, and only a host restart brings it back. Every
// minute; a timer function runs on one instance at a time however many there are. Registered only
// when CONSUMER_WATCHDOG_SITE_ID names the app (Azure): locally npm run dev's host watch does this.
if (settings().CONSUMER_WATCHDOG_SITE_ID) {
  app.timer('consumerWatchdog', {
    schedule: '0 * * * * *',
    handler: async (_timer, context) => {
      const watchdog = services().consumerWatchdog!;
      const announceRestart = (queues: string[]) =>
        logger.error('consumer watchdog: restarting the function app', { function: context.functionName, queues: queues.join(',') });
      const action = await watchConsumersOnce(watchdog, triggerQueues, announceRestart).catch((error: unknown) => {
        logger.error('consumer watchdog: the check or the restart failed; the next run tries again', { function: context.functionName, error });
        throw error;
      });
      if (action.kind === 'wait') {
        logger.warn('consumer watchdog: trigger queues without a consumer', { function: context.functionName, queues: action.queues.join(','), restartDueAt: new Date(action.restartDueAt).toISOString() });
      }
    },
  });
}
