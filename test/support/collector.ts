import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { decodeLogs, decodeMetrics, decodeTraces } from './otlpProtobuf.js';

// OTLP/JSON span kinds.
export const kind = { internal: 1, server: 2, client: 3, producer: 4, consumer: 5 } as const;

interface OtlpValue {
  stringValue?: string;
  intValue?: string | number;
  doubleValue?: number;
  boolValue?: boolean;
}
interface OtlpAttribute {
  key: string;
  value: OtlpValue;
}
export interface ReceivedSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: number;
  attributes: Record<string, unknown>;
  resource: Record<string, unknown>;
}

const attributesOf = (list: OtlpAttribute[] = []) =>
  Object.fromEntries(list.map(({ key, value }) => [key, value.stringValue ?? value.intValue ?? value.doubleValue ?? value.boolValue]));

export interface ReceivedLogRecord {
  scope?: string;
  traceId?: string;
  spanId?: string;
  body?: string;
  attributes: Record<string, unknown>;
}

const decoders: Record<string, (body: Buffer) => unknown> = { '/v1/traces': decodeTraces, '/v1/logs': decodeLogs, '/v1/metrics': decodeMetrics };

/**
 * A stand-in for an OpenTelemetry Collector: accepts OTLP/HTTP, JSON (what the app's -http exporters
 * send) or protobuf (what the real Functions host's .NET exporter sends), on a free port and keeps
 * what arrives, so the test reads the spans of the app and of the host as an in-memory exporter would.
 */
export class CollectorStub {
  readonly spans: ReceivedSpan[] = [];
  readonly metricNames = new Set<string>();
  readonly logRecords: ReceivedLogRecord[] = [];
  /** Every request body as received, to search for what must never be exported. */
  readonly rawBodies: string[] = [];
  readonly #server: Server;

  constructor() {
    this.#server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        const body = Buffer.concat(chunks);
        const text = body.toString('utf8');
        this.rawBodies.push(text);
        const path = req.url ?? '';
        try {
          const protobuf = req.headers['content-type']?.startsWith('application/x-protobuf');
          this.#receive(path, (protobuf ? decoders[path]?.(body) : JSON.parse(text)) as Record<string, unknown[]>);
        } catch {
          // neither OTLP/JSON nor OTLP protobuf: ignore
        }
        res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      });
    });
  }

  async listen(): Promise<string> {
    await new Promise<void>((resolve) => this.#server.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}`;
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.#server.close(() => resolve()));
  }

  #receive(path: string, body: Record<string, unknown[]>): void {
    type Resource = { resource?: { attributes?: OtlpAttribute[] } };
    if (path === '/v1/traces') {
      for (const rs of body.resourceSpans as (Resource & { scopeSpans: { spans: (ReceivedSpan & { attributes: OtlpAttribute[] })[] }[] })[]) {
        const resource = attributesOf(rs.resource?.attributes);
        for (const ss of rs.scopeSpans) for (const s of ss.spans) this.spans.push({ ...s, attributes: attributesOf(s.attributes), resource });
      }
    } else if (path === '/v1/metrics') {
      for (const rm of body.resourceMetrics as { scopeMetrics: { metrics: { name: string }[] }[] }[]) {
        for (const sm of rm.scopeMetrics) for (const m of sm.metrics) this.metricNames.add(m.name);
      }
    } else if (path === '/v1/logs') {
      type Scope = { scope?: { name?: string }; logRecords: { traceId?: string; spanId?: string; body?: OtlpValue; attributes?: OtlpAttribute[] }[] };
      for (const rl of body.resourceLogs as { scopeLogs: Scope[] }[]) {
        for (const sl of rl.scopeLogs) {
          for (const r of sl.logRecords) {
            this.logRecords.push({ scope: sl.scope?.name, traceId: r.traceId, spanId: r.spanId, body: r.body?.stringValue, attributes: attributesOf(r.attributes) });
          }
        }
      }
    }
  }
}

