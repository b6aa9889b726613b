import { app } from '@azure/functions';
import { bindings } from '../src/adapters/rabbitmq/topology.js';
import { observeQueueConsumers } from '../src/adapters/telemetry/metrics.js';
import { services } from '../src/app/container.js';
import { checkHealth } from '../src/app/health.js';

app.http('health', {
  methods: ['GET'],
  route: 'health',
  authLevel: 'anonymous',
  handler: async () => checkHealth(services()),
});

// What the consumer-missing alert watches (infra/modules/alerts.bicep): the trigger queues' consumers.
observeQueueConsumers(() => services().queueMonitor.consumerCounts(Object.keys(bindings)));
