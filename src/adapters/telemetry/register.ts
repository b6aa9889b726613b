// Start-up telemetry: the functions entry imports this module first, so OpenTelemetry and its
// instrumentations are in place before any module of the app loads pg, ioredis or amqplib.
import { app } from '@azure/functions';
import { telemetrySettings } from '../../config.js';
import { invocationHooks } from './invocation.js';
import { logger, logThroughOpenTelemetry } from './logger.js';
import { planTelemetry, startTelemetry, type TelemetryHandle } from './setup.js';

const plan = planTelemetry(telemetrySettings());
const hooks = invocationHooks({ tracing: plan.mode !== 'off' });
// Registered before the Azure Monitor distro adds its own preInvocation hook (which binds the
// handler to the host's trace context): hooks run in order, so ours wraps innermost and the
// handler runs inside the invocation span.
app.hook.preInvocation(hooks.preInvocation);
app.hook.postInvocation(hooks.postInvocation);

let handle: TelemetryHandle;
try {
  handle = startTelemetry(plan);
  if (plan.mode !== 'off') logThroughOpenTelemetry();
} catch (error) {
  // Telemetry never stops the app: it runs without export and says why.
  logger.warn('telemetry could not start; running without export', { mode: plan.mode, error });
  handle = { plan, shutdown: async () => undefined };
}
app.hook.appTerminate(() => handle.shutdown());

export const telemetry = handle;
