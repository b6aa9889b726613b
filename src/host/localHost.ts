import { pathToFileURL } from 'node:url';
import { AppRegistry, provideFunctionsCore } from './functionsCore.js';
import { applyLocalSettings, appEntryPoints, readHostOptions, type HostOptions } from './hostConfig.js';
import { HttpTriggerServer } from './httpTrigger.js';
import { HostLogger } from './logger.js';
import { RabbitMqTriggerListener, rabbitMqFunctions } from './rabbitMqTrigger.js';
import { TimerTriggerScheduler, timerFunctions } from './timerTrigger.js';

export interface LocalHostOptions {
  /** Folder with host.json, package.json (whose `main` is the built app) and local.settings.json. */
  appRoot: string;
  /** HTTP port; default the PORT setting, else 7071. 0 picks a free port. */
  port?: number;
  listenHost?: string;
  /** Run the timer triggers here (default); with several worker processes only one does. */
  runTimers?: boolean;
  logger?: HostLogger;
}

/** The host's app setting `AzureWebJobs.<function>.Disabled`: `true` or `1` keeps a function from running. */
function isDisabled(functionName: string): boolean {
  const value = process.env[`AzureWebJobs.${functionName}.Disabled`]?.trim().toLowerCase();
  return value === 'true' || value === '1';
}

/**
 * A local stand-in for the Azure Functions host and Node worker: it loads the built app, captures
 * its registrations through `@azure/functions-core`, and serves its HTTP, RabbitMQ and timer
 * triggers with the real host's semantics (see docs/local-host.md).
 */
export class LocalFunctionsHost {
  private constructor(
    readonly registry: AppRegistry,
    readonly options: HostOptions,
    readonly baseUrl: string,
    private readonly http: HttpTriggerServer,
    private readonly listeners: RabbitMqTriggerListener[],
    private readonly timers: TimerTriggerScheduler,
    private readonly logger: HostLogger,
  ) {}

  static async start(options: LocalHostOptions): Promise<LocalFunctionsHost> {
    const logger = options.logger ?? new HostLogger();
    applyLocalSettings(options.appRoot);
    const hostOptions = readHostOptions(options.appRoot);

    const registry = new AppRegistry();
    provideFunctionsCore(registry);
    for (const entry of appEntryPoints(options.appRoot)) await import(pathToFileURL(entry).href);
    if (!registry.programmingModel) throw new Error('The app registered no programming model: does it use @azure/functions v4?');
    await registry.programmingModel.getCapabilities?.({});
    for (const hook of registry.hooks.appStart) await hook({ hookData: {}, appHookData: {} });

    for (const name of registry.functions.keys()) if (isDisabled(name)) registry.functions.delete(name);

    const rabbitFunctions = rabbitMqFunctions(registry);
    const byUrl = new Map<string, typeof rabbitFunctions>();
    for (const target of rabbitFunctions) {
      const url = process.env[target.connectionStringSetting];
      if (!url) throw new Error(`Function "${target.fn.metadata.name}": app setting ${target.connectionStringSetting} (its connectionStringSetting) is not set`);
      byUrl.set(url, [...(byUrl.get(url) ?? []), target]);
    }
    const listeners = [...byUrl].map(([url, targets]) => new RabbitMqTriggerListener(registry, url, targets, hostOptions, logger));
    const timers = new TimerTriggerScheduler(registry, options.runTimers === false ? [] : timerFunctions(registry), hostOptions, logger);

    const http = new HttpTriggerServer(registry, hostOptions, logger);
    const port = await http.listen(options.port ?? Number(process.env.PORT ?? 7071), options.listenHost);
    const baseUrl = `http://localhost:${port}`;
    // Like the host, a listener that cannot connect yet (broker down, queue missing) does not stop
    // the others or HTTP: it logs and keeps retrying in the background.
    for (const listener of listeners) void listener.start();
    timers.start();
    return new LocalFunctionsHost(registry, hostOptions, baseUrl, http, listeners, timers, logger);
  }

  /** The function list `func start` prints: HTTP functions with their methods and URLs, others with their trigger. */
  describe(): string {
    const lines = ['Functions:', ''];
    // Like `func start`: one entry per function, each followed by a blank line.
    const httpNames = new Set<string>();
    for (const route of [...this.http.routes].sort((a, b) => a.fn.metadata.name.localeCompare(b.fn.metadata.name))) {
      httpNames.add(route.fn.metadata.name);
      const path = [this.options.routePrefix, route.route.template].filter(Boolean).join('/');
      lines.push(`\t${route.fn.metadata.name}: [${route.methods.join(',')}] ${this.baseUrl}/${path}`, '');
    }
    for (const fn of [...this.registry.functions.values()].sort((a, b) => a.metadata.name.localeCompare(b.metadata.name))) {
      if (httpNames.has(fn.metadata.name)) continue;
      const trigger = Object.values(fn.metadata.bindings).find((b) => b.direction === 'in' && b.type?.endsWith('Trigger'));
      lines.push(`\t${fn.metadata.name}: ${trigger?.type ?? 'unknown trigger'}`, '');
    }
    return lines.join('\n');
  }

  /** Stops taking work, drains what is in flight, then runs the app's appTerminate hooks. */
  async close(): Promise<void> {
    await Promise.all([this.http.close(), ...this.listeners.map((l) => l.close()), this.timers.close()]);
    for (const hook of this.registry.hooks.appTerminate) await hook({ hookData: {}, appHookData: {} });
    this.logger.host('Stopped.');
  }
}
