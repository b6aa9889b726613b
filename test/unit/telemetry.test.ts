import { createServer as createHttpServer, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { gunzipSync } from 'node:zlib';
import { metrics, trace } from '@opentelemetry/api';
import { HttpRequest, InvocationContext, PostInvocationContext, PreInvocationContext } from '@azure/functions';
import { generate as generateCertificate } from 'selfsigned';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { telemetrySettings } from '../../src/config.js';
import { invocationHooks } from '../../src/adapters/telemetry/invocation.js';
import { planTelemetry, startTelemetry, type TelemetryHandle } from '../../src/adapters/telemetry/setup.js';
import { resetOpenTelemetry } from '../support/openTelemetry.js';

const endpoint = 'http://127.0.0.1:4318';
const connectionString = 'InstrumentationKey=00000000-0000-0000-0000-000000000000;IngestionEndpoint=http://127.0.0.1:9/';


describe('telemetry settings and plan', () => {
  it('when neither setting is set, then telemetry is off', () => {
    expect(planTelemetry(telemetrySettings({}))).toEqual({ mode: 'off', azureMonitor: undefined, otlp: undefined });
  });

  it('when only the connection string is set, then only Azure Monitor exports', () => {
    expect(planTelemetry(telemetrySettings({ APPLICATIONINSIGHTS_CONNECTION_STRING: connectionString }))).toEqual({
      mode: 'azure-monitor',
      azureMonitor: { connectionString },
      otlp: undefined,
    });
  });

  it('when only the OTLP endpoint is set, then traces, metrics and logs go to its /v1 paths', () => {
    const plan = planTelemetry(telemetrySettings({ OTEL_EXPORTER_OTLP_ENDPOINT: `${endpoint}/`, OTEL_METRIC_EXPORT_INTERVAL: '1000' }));
    expect(plan).toEqual({
      mode: 'otlp',
      azureMonitor: undefined,
      otlp: { tracesUrl: `${endpoint}/v1/traces`, metricsUrl: `${endpoint}/v1/metrics`, logsUrl: `${endpoint}/v1/logs`, metricExportIntervalMs: 1000 },
    });
  });

  it('when both are set, then both export', () => {
    const plan = planTelemetry(telemetrySettings({ APPLICATIONINSIGHTS_CONNECTION_STRING: connectionString, OTEL_EXPORTER_OTLP_ENDPOINT: endpoint }));
    expect(plan.mode).toBe('azure-monitor+otlp');
    expect(plan.otlp?.metricExportIntervalMs).toBe(60_000);
  });

  it('when a telemetry setting is empty or malformed, then that export is off and nothing throws (settings() reports it)', () => {
    expect(telemetrySettings({ OTEL_EXPORTER_OTLP_ENDPOINT: 'not a url', APPLICATIONINSIGHTS_CONNECTION_STRING: '' })).toEqual({
      applicationInsightsConnectionString: undefined,
      otlpEndpoint: undefined,
      metricExportIntervalMs: undefined,
    });
  });
});

/**
 * Receives what the exporters send: OTLP/JSON on /v1/*, Application Insights envelopes (gzip) on
 * /v2.1/track. The Azure Monitor exporter only speaks HTTPS, hence a TLS variant.
 */
class IngestionStub {
  readonly received: { path: string; body: string }[] = [];
  readonly #server: Server;
  readonly #scheme: string;

  constructor(tls?: { key: string; cert: string }) {
    this.#scheme = tls ? 'https' : 'http';
    this.#server = tls ? createHttpsServer(tls, this.#handle) : createHttpServer(this.#handle);
  }

  readonly #handle = (req: import('node:http').IncomingMessage, res: import('node:http').ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const raw = Buffer.concat(chunks);
      const body = req.headers['content-encoding'] === 'gzip' ? gunzipSync(raw).toString('utf8') : raw.toString('utf8');
      this.received.push({ path: req.url ?? '', body });
      res.writeHead(200, { 'content-type': 'application/json' }).end(req.url?.includes('track') ? '{"itemsReceived":1,"itemsAccepted":1,"errors":[]}' : '{}');
    });
  };

  async listen(): Promise<string> {
    await new Promise<void>((resolve) => this.#server.listen(0, '127.0.0.1', resolve));
    return `${this.#scheme}://127.0.0.1:${(this.#server.address() as AddressInfo).port}`;
  }
  close(): Promise<void> {
    return new Promise((resolve) => this.#server.close(() => resolve()));
  }
  bodies(pathPart: string): string {
    return this.received.filter((r) => r.path.includes(pathPart)).map((r) => r.body).join('\n');
  }
}

describe('startTelemetry in each of the four combinations', () => {
  const stub = new IngestionStub();
  let breeze: IngestionStub;
  let base: string;
  let breezeBase: string;
  let handle: TelemetryHandle | undefined;
  const saved = {
    a: process.env.APPLICATION_INSIGHTS_NO_STATSBEAT,
    b: process.env.APPLICATIONINSIGHTS_STATSBEAT_DISABLED,
    tls: process.env.NODE_TLS_REJECT_UNAUTHORIZED,
  };
  const restore = (name: string, value: string | undefined) => (value === undefined ? delete process.env[name] : (process.env[name] = value));

  beforeAll(async () => {
    base = await stub.listen();
    const pems = await generateCertificate([{ name: 'commonName', value: '127.0.0.1' }], { keySize: 2048, algorithm: 'sha256' });
    breeze = new IngestionStub({ key: pems.private, cert: pems.cert });
    breezeBase = await breeze.listen();
    // This test process only: the stub's certificate is self-signed.
    process.env.NODE_TLS_REJECT_UNAUTHORIZED = '0';
    // No SDK self-telemetry to Microsoft from a unit test.
    process.env.APPLICATION_INSIGHTS_NO_STATSBEAT = 'true';
    process.env.APPLICATIONINSIGHTS_STATSBEAT_DISABLED = 'true';
  });
  afterEach(async () => {
    await handle?.shutdown().catch(() => undefined);
    handle = undefined;
    resetOpenTelemetry();
    stub.received.length = 0;
    breeze.received.length = 0;
  });
  afterAll(async () => {
    restore('APPLICATION_INSIGHTS_NO_STATSBEAT', saved.a);
    restore('APPLICATIONINSIGHTS_STATSBEAT_DISABLED', saved.b);
    restore('NODE_TLS_REJECT_UNAUTHORIZED', saved.tls);
    await Promise.all([stub.close(), breeze?.close()]);
  });

  const aiConnectionString = () => `InstrumentationKey=00000000-0000-0000-0000-000000000000;IngestionEndpoint=${breezeBase}/`;
  const emitSpan = () => {
    const span = trace.getTracer('test').startSpan('unit-span', { attributes: { orderId: 'o-1' } });
    const recording = span.isRecording();
    span.end();
    return recording;
  };

  it('when neither is set, then no SDK is loaded and the API stays a no-op', async () => {
    const cache = createRequire(import.meta.url).cache;
    const sdkLoaded = () => Object.keys(cache).some((file) => /@azure[/\\]monitor-opentelemetry[/\\]|@opentelemetry[/\\]sdk-node[/\\]build/.test(file));
    const before = sdkLoaded();
    handle = startTelemetry(planTelemetry(telemetrySettings({})));
    expect(handle.plan.mode).toBe('off');
    expect(emitSpan()).toBe(false);
    expect(sdkLoaded()).toBe(before);
    await handle.shutdown();
    expect(stub.received).toEqual([]);
    expect(breeze.received).toEqual([]);
  });

  it('when only OTLP is set, then spans go to /v1/traces as OTLP/JSON with the service name and version', async () => {
    handle = startTelemetry(planTelemetry(telemetrySettings({ OTEL_EXPORTER_OTLP_ENDPOINT: base })), { serviceVersion: '9.9.9' });
    expect(emitSpan()).toBe(true);
    metrics.getMeter('test').createCounter('unit.counter').add(1);
    await handle.shutdown();
    handle = undefined;
    const traces = stub.bodies('/v1/traces');
    expect(traces).toContain('"unit-span"');
    expect(traces).toContain('"shop-functions"');
    expect(traces).toContain('"9.9.9"');
    expect(stub.bodies('/v1/metrics')).toContain('unit.counter');
    expect(breeze.bodies('/track')).toBe('');
  });

  it('when only the connection string is set, then spans go to Application Insights with the service as cloud role', async () => {
    handle = startTelemetry(planTelemetry(telemetrySettings({ APPLICATIONINSIGHTS_CONNECTION_STRING: aiConnectionString() })), {
      azureMonitorExporterOptions: { disableOfflineStorage: true },
    });
    expect(emitSpan()).toBe(true);
    await handle.shutdown();
    handle = undefined;
    const track = breeze.bodies('/track');
    expect(track).toContain('unit-span');
    expect(track).toContain('"ai.cloud.role":"shop-functions"');
    expect(stub.bodies('/v1/')).toBe('');
  });

  it("when an HTTP invocation runs under the host's request span, then Application Insights gets no request record from the app, only an in-process dependency under the host's request", async () => {
    handle = startTelemetry(planTelemetry(telemetrySettings({ APPLICATIONINSIGHTS_CONNECTION_STRING: aiConnectionString() })), {
      azureMonitorExporterOptions: { disableOfflineStorage: true },
    });
    // As the real host passes it: its ASP.NET Core request span (test/conformance/captured/health.json).
    const hostTraceId = '0af7651916cd43dd8448eb211c80319c';
    const hostSpanId = '2a011249f21e21e0';
    const ic = new InvocationContext({
      functionName: 'health',
      invocationId: 'inv-ai',
      traceContext: { traceParent: `00-${hostTraceId}-${hostSpanId}-01`, traceState: '', attributes: { 'http.request.method': 'GET', 'url.path': '/api/health' } },
      options: { trigger: { type: 'httpTrigger', name: 'request', route: 'health', methods: ['GET'] } as never, extraInputs: [], extraOutputs: [] },
    });
    const request = new HttpRequest({ method: 'GET', url: 'http://localhost/api/health' });
    const hooks = invocationHooks({ tracing: true });
    const pre = new PreInvocationContext({ invocationContext: ic, inputs: [request, ic], functionCallback: (() => ({ status: 200 })) as never, hookData: {} });
    hooks.preInvocation(pre);
    const result = await pre.functionHandler(request as never, ic as never);
    hooks.postInvocation(new PostInvocationContext({ invocationContext: ic, inputs: [request, ic], result, error: undefined, hookData: pre.hookData }));
    await handle.shutdown();
    handle = undefined;

    type Envelope = { name: string; tags: Record<string, string>; data: { baseData: { type?: string; name?: string } } };
    const envelopes = breeze.received.filter((r) => r.path.includes('/track')).flatMap((r) => JSON.parse(r.body) as Envelope[]);
    expect(envelopes.filter((e) => e.name.endsWith('.Request'))).toEqual([]);
    const invocation = envelopes.filter((e) => e.name.endsWith('.RemoteDependency') && e.data.baseData.name === 'GET /api/health');
    expect(invocation).toHaveLength(1);
    expect(invocation[0]!.data.baseData.type).toBe('InProc');
    expect(invocation[0]!.tags).toMatchObject({ 'ai.operation.id': hostTraceId, 'ai.operation.parentId': hostSpanId });
  });

  it('when both are set, then the same span reaches Application Insights and the OTLP endpoint', async () => {
    handle = startTelemetry(
      planTelemetry(telemetrySettings({ APPLICATIONINSIGHTS_CONNECTION_STRING: aiConnectionString(), OTEL_EXPORTER_OTLP_ENDPOINT: base })),
      { azureMonitorExporterOptions: { disableOfflineStorage: true } },
    );
    expect(handle.plan.mode).toBe('azure-monitor+otlp');
    expect(emitSpan()).toBe(true);
    await handle.shutdown();
    handle = undefined;
    expect(breeze.bodies('/track')).toContain('unit-span');
    expect(stub.bodies('/v1/traces')).toContain('"unit-span"');
  });
});
