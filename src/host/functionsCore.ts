import Module from 'node:module';
import type { FunctionCallback, FunctionMetadata, HookCallback, HookName, ProgrammingModel, RpcBindingInfo, RpcLogCategory, RpcLogLevel } from './coreTypes.js';

export interface RegisteredFunction {
  metadata: FunctionMetadata;
  handler: FunctionCallback;
}

class Disposable {
  #dispose: (() => void) | undefined;
  constructor(dispose: () => void) {
    this.#dispose = dispose;
  }
  dispose(): void {
    this.#dispose?.();
    this.#dispose = undefined;
  }
}

/**
 * What the app registers through `@azure/functions-core`: its programming model, its functions and
 * its hooks. The real Node worker keeps exactly this state; the local host reads it instead of
 * keeping a route table of its own.
 */
export class AppRegistry {
  programmingModel: ProgrammingModel | undefined;
  readonly functions = new Map<string, RegisteredFunction>();
  readonly hooks: Record<HookName, HookCallback[]> = {
    appStart: [],
    appTerminate: [],
    preInvocation: [],
    postInvocation: [],
    log: [],
  };

  /**
   * Runs the `log` hooks for one log call, as worker 3.10+ does (host 4.34+), synchronously; a hook
   * that throws does not fail the invocation or the logging.
   */
  runLogHooks(entry: { level: RpcLogLevel; category: RpcLogCategory; message: string; invocationContext?: unknown }): void {
    for (const hook of this.hooks.log) {
      try {
        void hook({ ...entry, hookData: {} });
      } catch (error) {
        console.error(`[host] a log hook failed: ${(error as Error)?.message ?? String(error)}`);
      }
    }
  }

  /** The registered functions whose trigger binding has this type (e.g. `httpTrigger`), with that binding. */
  functionsWithTrigger(type: string): { fn: RegisteredFunction; triggerName: string; binding: RpcBindingInfo }[] {
    const wanted = type.toLowerCase();
    return [...this.functions.values()].flatMap((fn) => {
      const entry = Object.entries(fn.metadata.bindings).find(([, binding]) => binding.type?.toLowerCase() === wanted);
      return entry ? [{ fn, triggerName: entry[0], binding: entry[1] }] : [];
    });
  }

  /** The module object `require('@azure/functions-core')` returns inside the app. */
  coreApi() {
    return {
      setProgrammingModel: (model: ProgrammingModel) => {
        this.programmingModel = model;
      },
      getProgrammingModel: () => this.programmingModel,
      registerFunction: (metadata: FunctionMetadata, handler: FunctionCallback) => {
        if (this.functions.has(metadata.name)) {
          throw new Error(`A function named "${metadata.name}" is already registered`);
        }
        this.functions.set(metadata.name, { metadata, handler });
        return new Disposable(() => this.functions.delete(metadata.name));
      },
      registerHook: (name: string, callback: HookCallback) => {
        if (!(name in this.hooks)) {
          // The worker answers unknown hook names with a RangeError (the library relies on that).
          throw Object.assign(new RangeError(`Unrecognized hook "${name}"`), { isAzureFunctionsSystemError: true });
        }
        const list = this.hooks[name as HookName];
        list.push(callback);
        return new Disposable(() => list.splice(list.indexOf(callback), 1));
      },
      log: (level: RpcLogLevel, category: RpcLogCategory, message: string) => {
        this.runLogHooks({ level, category, message });
        if (category === 'system' && level !== 'warning' && level !== 'error') return;
        console.log(`[${level}] ${message}`);
      },
      Disposable,
    };
  }
}

const coreModuleName = '@azure/functions-core';
type ModuleWithLoad = typeof Module & { _load(request: string, parent: unknown, isMain: boolean): unknown };

/**
 * Makes `require('@azure/functions-core')` return the registry's core API, as the Node worker does
 * for the app it loads. `@azure/functions` is CommonJS and looks the module up lazily, so hooking
 * the CommonJS loader is enough, for ESM apps as well.
 */
export function provideFunctionsCore(registry: AppRegistry): () => void {
  const loader = Module as ModuleWithLoad;
  const originalLoad = loader._load;
  const coreApi = registry.coreApi();
  loader._load = function load(request, parent, isMain) {
    if (request === coreModuleName) return coreApi;
    return originalLoad.call(this, request, parent, isMain);
  };
  return () => {
    loader._load = originalLoad;
  };
}
