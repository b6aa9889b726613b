// Loads the built app the way the Node worker does (its `@azure/functions-core` registrations,
// through the local host's stand-in for that module), runs each invocation request of the input
// file through the library's own ProgrammingModel, then the appTerminate hooks (which flush
// telemetry), and writes what came back. Run by test/conformance/harness.ts in a fresh process,
// as a worker process is: `node --import tsx invokeApp.ts <input.json> <output.json>`.
import { readFileSync, writeFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import type { RpcInvocationRequest, RpcTypedData } from '../../src/host/coreTypes.js';
import { AppRegistry, provideFunctionsCore } from '../../src/host/functionsCore.js';
import { appEntryPoints } from '../../src/host/hostConfig.js';
import { invokeFunction } from '../../src/host/invoke.js';
import { HostLogger } from '../../src/host/logger.js';
import { fromWire, toWire, type HarnessInput, type HarnessOutput, type InvocationResult } from './wire.js';

const [inputPath, outputPath] = process.argv.slice(2) as [string, string];
const input = fromWire(JSON.parse(readFileSync(inputPath, 'utf8'))) as HarnessInput;

const registry = new AppRegistry();
provideFunctionsCore(registry);
for (const entry of appEntryPoints(input.appRoot)) await import(pathToFileURL(entry).href);
const capabilities = (await registry.programmingModel!.getCapabilities?.({})) ?? {};
for (const hook of registry.hooks.appStart) await hook({ hookData: {}, appHookData: {} });

const logger = new HostLogger();
const results: InvocationResult[] = [];
for (const { functionName, request } of input.invocations) {
  const fn = registry.functions.get(functionName);
  if (!fn) throw new Error(`the app registered no function ${functionName}`);
  // The host names the trigger's input after the binding the worker declared for it.
  const triggerName = Object.entries(fn.metadata.bindings).find(([, binding]) => binding.direction === 'in' && binding.type?.endsWith('Trigger'))![0];
  const named: Omit<RpcInvocationRequest, 'invocationId'> = {
    ...request,
    inputData: request.inputData?.map((binding, index) => (index === 0 ? { ...binding, name: triggerName } : binding)),
  };
  try {
    const { invocationId, response } = await invokeFunction(registry, fn, named, logger);
    results.push({ functionName, invocationId, returnValue: response.returnValue as RpcTypedData | undefined });
  } catch (error) {
    results.push({ functionName, error: (error as Error)?.message ?? String(error) });
  }
}

for (const hook of registry.hooks.appTerminate) await hook({ hookData: {}, appHookData: {} });
writeFileSync(outputPath, JSON.stringify(toWire({ capabilities, results } satisfies HarnessOutput)));
process.exit(0);
