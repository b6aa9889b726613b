import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { metrics, trace } from '@opentelemetry/api';
import type { AzureMonitorOpenTelemetryOptions } from '@azure/monitor-opentelemetry';
import type { Instrumentation } from '@opentelemetry/instrumentation';
import type { TelemetrySettings } from '../../config.js';

export const serviceName = 'shop-functions';

/** What start-up telemetry does for a set of settings; a pure decision, so each combination is testable. */
export interface TelemetryPlan {
  mode: 'off' | 'azure-monitor' | 'otlp' | 'azure-monitor+otlp';
  azureMonitor: { connectionString: string; identity: { clientId: string | undefined } | undefined } | undefined;
  otlp: { tracesUrl: string; metricsUrl: string; logsUrl: string; metricExportIntervalMs: number } | undefined;
}

export function planTelemetry(s: TelemetrySettings): TelemetryPlan {
  const azureMonitor = s.applicationInsightsConnectionString
    ? { connectionString: s.applicationInsightsConnectionString, identity: s.azureMonitorIdentity }
    : undefined;
  const base = s.otlpEndpoint?.replace(/\/+$/, '');
  const otlp = base
    ? { tracesUrl: `${base}/v1/traces`, metricsUrl: `${base}/v1/metrics`, logsUrl: `${base}/v1/logs`, metricExportIntervalMs: s.metricExportIntervalMs ?? 60_000 }
    : undefined;
  const mode = azureMonitor && otlp ? 'azure-monitor+otlp' : azureMonitor ? 'azure-monitor' : otlp ? 'otlp' : 'off';
  return { mode, azureMonitor, otlp };
}

export interface TelemetryHandle {
  plan: TelemetryPlan;
  /** Flushes and stops every exporter; a no-op when telemetry is off. */
  shutdown(): Promise<void>;
}

export interface StartOptions {
  serviceVersion?: string;
  /** Extra Azure Monitor exporter options (tests turn offline storage off). */
  azureMonitorExporterOptions?: NonNullable<AzureMonitorOpenTelemetryOptions['azureMonitorExporterOptions']>;
}

// SDK packages are loaded only when an export is on, synchronously, so instrumentations are in
// place before the app's own imports (pg, ioredis, amqplib) are evaluated.
const require = createRequire(import.meta.url);

/**
 * Starts OpenTelemetry per the plan. Off: nothing is loaded or registered and the API stays no-op.
 * Azure Monitor: the `@azure/monitor-opentelemetry` distro (http and pg instrumentations included),
 * plus the ioredis and amqplib instrumentations it lacks. OTLP: the Node SDK with OTLP/HTTP trace,
 * metric and log exporters and the four instrumentations. Both: the distro, with the OTLP span
 * processor, metric reader and log record processor added to its providers, so every span, metric
 * and log goes to both.
 */
export function startTelemetry(plan: TelemetryPlan, options: StartOptions = {}): TelemetryHandle {
  if (plan.mode === 'off') return { plan, shutdown: async () => undefined };

  const { resourceFromAttributes } = require('@opentelemetry/resources') as typeof import('@opentelemetry/resources');
  const resource = resourceFromAttributes({ 'service.name': serviceName, 'service.version': options.serviceVersion ?? packageVersion() });
  const otlp = plan.otlp && otlpPipeline(plan.otlp);

  if (plan.azureMonitor) {
    const { useAzureMonitor, shutdownAzureMonitor } = require('@azure/monitor-opentelemetry') as typeof import('@azure/monitor-opentelemetry');
    const identity = plan.azureMonitor.identity;
    // With local authentication off (Azure), ingestion takes an Entra token of the app's identity.
    const credential = identity && (require('@azure/identity') as typeof import('@azure/identity')).ManagedIdentityCredential;
    useAzureMonitor({
      azureMonitorExporterOptions: {
        connectionString: plan.azureMonitor.connectionString,
        ...(credential && { credential: new credential(identity.clientId ? { clientId: identity.clientId } : {}) }),
        ...options.azureMonitorExporterOptions,
      },
      resource,
      // The distro's default rate-limited sampler decides per process and ignores remote parents, so
      // a checkout's hops could be kept in one process and dropped in the next. A fixed ratio samples
      // by trace id, the same decision at every hop; 1 keeps every trace whole.
      samplingRatio: 1,
      tracesPerSecond: 0,
      instrumentationOptions: {
        http: { enabled: true, disableIncomingRequestInstrumentation: true } as never,
        postgreSql: { enabled: true, requireParentSpan: true } as never,
        redis: { enabled: false },
        redis4: { enabled: false },
        mongoDb: { enabled: false },
        mySql: { enabled: false },
      },
      ...(otlp ? { spanProcessors: [otlp.spanProcessor], metricReaders: [otlp.metricReader], logRecordProcessors: [otlp.logRecordProcessor] } : {}),
    });
    const extra = [...extraInstrumentations(), functionsInstrumentation()];
    preloadInstrumentedClients();
    return {
      plan,
      async shutdown() {
        for (const instrumentation of extra) instrumentation.disable();
        await shutdownAzureMonitor();
      },
    };
  }

  const { NodeSDK } = require('@opentelemetry/sdk-node') as typeof import('@opentelemetry/sdk-node');
  const { HttpInstrumentation } = require('@opentelemetry/instrumentation-http') as typeof import('@opentelemetry/instrumentation-http');
  const { PgInstrumentation } = require('@opentelemetry/instrumentation-pg') as typeof import('@opentelemetry/instrumentation-pg');
  const sdk = new NodeSDK({
    resource,
    autoDetectResources: false,
    spanProcessors: [otlp!.spanProcessor],
    metricReaders: [otlp!.metricReader],
    logRecordProcessors: [otlp!.logRecordProcessor],
    instrumentations: [
      // Incoming HTTP reaches the worker over gRPC from the Functions host, never through Node's http
      // server: the host's request span is the server span (see invocation.ts). Outgoing calls are traced.
      new HttpInstrumentation({ disableIncomingRequestInstrumentation: true }),
      new PgInstrumentation({ requireParentSpan: true }),
      ...extraInstrumentations(),
    ],
  });
  sdk.start();
  functionsInstrumentation();
  preloadInstrumentedClients();
  return { plan, shutdown: () => sdk.shutdown() };
}

function otlpPipeline(otlp: NonNullable<TelemetryPlan['otlp']>) {
  const { OTLPTraceExporter } = require('@opentelemetry/exporter-trace-otlp-http') as typeof import('@opentelemetry/exporter-trace-otlp-http');
  const { OTLPMetricExporter } = require('@opentelemetry/exporter-metrics-otlp-http') as typeof import('@opentelemetry/exporter-metrics-otlp-http');
  const { OTLPLogExporter } = require('@opentelemetry/exporter-logs-otlp-http') as typeof import('@opentelemetry/exporter-logs-otlp-http');
  const { BatchSpanProcessor } = require('@opentelemetry/sdk-trace-base') as typeof import('@opentelemetry/sdk-trace-base');
  const { PeriodicExportingMetricReader } = require('@opentelemetry/sdk-metrics') as typeof import('@opentelemetry/sdk-metrics');
  const { BatchLogRecordProcessor } = require('@opentelemetry/sdk-logs') as typeof import('@opentelemetry/sdk-logs');
  // The -http exporters send OTLP/JSON; BatchSpanProcessor and BatchLogRecordProcessor read OTEL_BSP_*/OTEL_BLRP_* themselves.
  return {
    spanProcessor: new BatchSpanProcessor(new OTLPTraceExporter({ url: otlp.tracesUrl })),
    metricReader: new PeriodicExportingMetricReader({
      exporter: new OTLPMetricExporter({ url: otlp.metricsUrl }),
      exportIntervalMillis: otlp.metricExportIntervalMs,
      exportTimeoutMillis: Math.min(30_000, otlp.metricExportIntervalMs),
    }),
    logRecordProcessor: new BatchLogRecordProcessor(new OTLPLogExporter({ url: otlp.logsUrl })),
  };
}

/**
 * ioredis and amqplib instrumentations (not part of the Azure Monitor distro). Both use the global
 * providers, so they work under the distro and the Node SDK alike.
 *
 * ioredis 6 keeps the prototype the instrumentation wraps (`Redis.prototype.sendCommand` and
 * `connect`), but instrumentation-ioredis 0.67 declares `<6`; the range is widened to `<7` here,
 * and the e2e trace test checks that Redis spans appear. instrumentation-amqplib 0.66 declares
 * `<2` and is left as published: with amqplib 2.x it stays inactive, and the publisher's own
 * PRODUCER spans cover what the app does with AMQP (consuming is the Functions host's job).
 */
function extraInstrumentations(): Instrumentation[] {
  const { IORedisInstrumentation } = require('@opentelemetry/instrumentation-ioredis') as typeof import('@opentelemetry/instrumentation-ioredis');
  const { AmqplibInstrumentation } = require('@opentelemetry/instrumentation-amqplib') as typeof import('@opentelemetry/instrumentation-amqplib');
  class IORedis6Instrumentation extends IORedisInstrumentation {
    override init() {
      const definitions = super.init();
      for (const definition of definitions) definition.supportedVersions = ['>=2.0.0 <7'];
      return definitions;
    }
  }
  const instrumentations: Instrumentation[] = [new IORedis6Instrumentation({ requireParentSpan: true }), new AmqplibInstrumentation()];
  for (const instrumentation of instrumentations) {
    instrumentation.setTracerProvider(trace.getTracerProvider());
    instrumentation.setMeterProvider(metrics.getMeterProvider());
  }
  return instrumentations;
}

/**
 * The official `@azure/functions-opentelemetry-instrumentation`: it declares the worker capability
 * `WorkerOpenTelemetryEnabled`, so a host in `telemetryMode: OpenTelemetry` stops exporting the
 * worker's logs itself (one copy, from here), forwards `context.log` calls as log records, and binds
 * each handler to the host's trace context (the invocation span, invocation.ts, then nests inside).
 * It patches `@azure/functions` when that is required next (preloadInstrumentedClients), and takes
 * its logger from the provider registered now: it was built against an older instrumentation base,
 * which reads the global logger provider only when constructed.
 */
function functionsInstrumentation(): Instrumentation {
  const { AzureFunctionsInstrumentation } = require('@azure/functions-opentelemetry-instrumentation') as typeof import('@azure/functions-opentelemetry-instrumentation');
  const { logs } = require('@opentelemetry/api-logs') as typeof import('@opentelemetry/api-logs');
  const instrumentation = new AzureFunctionsInstrumentation();
  instrumentation.setLoggerProvider(logs.getLoggerProvider());
  return instrumentation as unknown as Instrumentation;
}

/**
 * Node 20 evaluates `import pg from 'pg'` of a CommonJS package without going through `require`,
 * so require hooks never see it. Requiring the clients here, once the hooks are installed, patches
 * them; the app's later `import` gets the same (patched) module from the CommonJS cache.
 */
function preloadInstrumentedClients(): void {
  for (const name of ['pg', 'pg-pool', 'ioredis', 'amqplib', '@azure/functions']) {
    try {
      require(name);
    } catch {
      // not installed: nothing to instrument
    }
  }
}

/** The app's version from the nearest package.json (dist/ and src/ both sit under the project root). */
function packageVersion(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    const file = join(dir, 'package.json');
    if (existsSync(file)) {
      const { version } = JSON.parse(readFileSync(file, 'utf8')) as { version?: string };
      if (version) return version;
    }
    dir = dirname(dir);
  }
  return '0.0.0';
}
