import { randomUUID } from 'node:crypto';
import type { AppRegistry, RegisteredFunction } from './functionsCore.js';
import type { CoreInvocationContext, RpcInvocationRequest, RpcInvocationResponse, RpcLogLevel } from './coreTypes.js';
import type { HostLogger } from './logger.js';

export interface Invocation {
  invocationId: string;
  response: RpcInvocationResponse;
}

/**
 * Runs one invocation the way the Node worker does: the app's own programming model converts the
 * RPC request into arguments, pre-invocation hooks run, then the handler, then post-invocation
 * hooks, and the model converts the result back into an RPC response. Errors propagate to the
 * trigger, which decides what a failure means (500 for HTTP, a retry for RabbitMQ).
 */
export async function invokeFunction(
  registry: AppRegistry,
  fn: RegisteredFunction,
  request: Omit<RpcInvocationRequest, 'invocationId'>,
  logger: HostLogger,
): Promise<Invocation> {
  const model = registry.programmingModel;
  if (!model) throw new Error('The app did not set a programming model (is it built on @azure/functions v4?)');
  const invocationId = randomUUID();
  // Log hooks get the invocation's context once the model has made it.
  const invocation: { context?: unknown } = {};
  const coreContext: CoreInvocationContext = {
    invocationId,
    request: { ...request, invocationId },
    metadata: { name: fn.metadata.name, bindings: fn.metadata.bindings },
    log: (level: RpcLogLevel, category, message) => {
      registry.runLogHooks({ level, category, message, invocationContext: invocation.context });
      logger.functionLog(fn.metadata.name, invocationId, level, category, message);
    },
  };
  const invocationModel = model.getInvocationModel(coreContext);
  const { context, inputs } = await invocationModel.getArguments();
  invocation.context = context;

  const hookData: Record<string, unknown> = {};
  const preContext: Record<string, unknown> = { hookData, invocationContext: context, inputs, functionCallback: fn.handler };
  coreContext.state = 'preInvocationHooks';
  for (const hook of registry.hooks.preInvocation) await hook(preContext);

  coreContext.state = 'invocation';
  let result: unknown;
  let error: unknown;
  try {
    result = await invocationModel.invokeFunction(context, preContext.inputs as unknown[], preContext.functionCallback as RegisteredFunction['handler']);
  } catch (err) {
    error = err;
  }

  const postContext: Record<string, unknown> = { hookData, invocationContext: context, inputs: preContext.inputs, result, error };
  coreContext.state = 'postInvocationHooks';
  for (const hook of registry.hooks.postInvocation) await hook(postContext);
  if (postContext.error) throw postContext.error;

  const response = await invocationModel.getResponse(context, postContext.result);
  return { invocationId, response };
}
