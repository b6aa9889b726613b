import { app } from '@azure/functions';
import { services } from '../src/app/container.js';
import { checkHealth } from '../src/app/health.js';

app.http('health', {
  methods: ['GET'],
  route: 'health',
  authLevel: 'anonymous',
  handler: async () => checkHealth(services()),
});
