/*
 * OTLP/HTTP protobuf, decoded into the OTLP/JSON shape the collector stub reads. The real Functions
 * host exports with OpenTelemetry .NET, whose OTLP exporter speaks protobuf only (gRPC or
 * http/protobuf); the app's -http exporters send JSON. Only the fields the tests read are decoded
 * (opentelemetry-proto v1: trace, logs and metrics service requests; common and resource messages).
 */

type Field = { number: number; varint?: bigint; bytes?: Buffer; fixed64?: Buffer };

function readVarint(buffer: Buffer, offset: number): [bigint, number] {
  let value = 0n;
  let shift = 0n;
  for (;;) {
    const byte = buffer[offset++]!;
    value |= BigInt(byte & 0x7f) << shift;
    if (byte < 0x80) return [value, offset];
    shift += 7n;
  }
}

function fields(buffer: Buffer): Field[] {
  const out: Field[] = [];
  let offset = 0;
  while (offset < buffer.length) {
    let key: bigint;
    [key, offset] = readVarint(buffer, offset);
    const number = Number(key >> 3n);
    const wireType = Number(key & 7n);
    if (wireType === 0) {
      let varint: bigint;
      [varint, offset] = readVarint(buffer, offset);
      out.push({ number, varint });
    } else if (wireType === 1) {
      out.push({ number, fixed64: buffer.subarray(offset, offset + 8) });
      offset += 8;
    } else if (wireType === 2) {
      let length: bigint;
      [length, offset] = readVarint(buffer, offset);
      out.push({ number, bytes: buffer.subarray(offset, offset + Number(length)) });
      offset += Number(length);
    } else if (wireType === 5) {
      offset += 4;
    } else {
      throw new Error(`unsupported protobuf wire type ${wireType}`);
    }
  }
  return out;
}

const all = (list: Field[], number: number) => list.filter((f) => f.number === number);
const one = (list: Field[], number: number) => list.find((f) => f.number === number);
const text = (field: Field | undefined) => field?.bytes?.toString('utf8');
const hex = (field: Field | undefined) => (field?.bytes?.length ? field.bytes.toString('hex') : undefined);

type JsonValue = { stringValue?: string; intValue?: number; doubleValue?: number; boolValue?: boolean };

/** common.v1.AnyValue: string 1, bool 2, int 3, double 4 (arrays, maps and bytes are not read). */
function anyValue(buffer: Buffer | undefined): JsonValue {
  const list = fields(buffer ?? Buffer.alloc(0));
  const [field] = list;
  if (!field) return {};
  if (field.number === 1) return { stringValue: text(field) };
  if (field.number === 2) return { boolValue: field.varint !== 0n };
  // As the app's JSON exporter sends it: a number (every value the tests read is far below 2^53).
  if (field.number === 3) return { intValue: Number(BigInt.asIntN(64, field.varint!)) };
  if (field.number === 4) return { doubleValue: field.fixed64!.readDoubleLE(0) };
  return {};
}

/** common.v1.KeyValue: key 1, value 2. */
const attributes = (list: Field[], number: number) => all(list, number).map((f) => {
  const kv = fields(f.bytes!);
  return { key: text(one(kv, 1))!, value: anyValue(one(kv, 2)?.bytes) };
});

/** resource.v1.Resource: attributes 1. */
const resource = (field: Field | undefined) => ({ attributes: attributes(fields(field?.bytes ?? Buffer.alloc(0)), 1) });

/** ExportTraceServiceRequest: ResourceSpans 1 { resource 1, ScopeSpans 2 { scope 1, Span 2 } }. */
export function decodeTraces(buffer: Buffer) {
  return {
    resourceSpans: all(fields(buffer), 1).map((rs) => {
      const rsFields = fields(rs.bytes!);
      return {
        resource: resource(one(rsFields, 1)),
        scopeSpans: all(rsFields, 2).map((ss) => ({
          // Span: trace_id 1, span_id 2, parent_span_id 4, name 5, kind 6, attributes 9.
          spans: all(fields(ss.bytes!), 2).map((s) => {
            const span = fields(s.bytes!);
            return {
              traceId: hex(one(span, 1))!,
              spanId: hex(one(span, 2))!,
              parentSpanId: hex(one(span, 4)),
              name: text(one(span, 5)) ?? '',
              kind: Number(one(span, 6)?.varint ?? 0n),
              attributes: attributes(span, 9),
            };
          }),
        })),
      };
    }),
  };
}

/** ExportLogsServiceRequest: ResourceLogs 1 { resource 1, ScopeLogs 2 { scope 1 { name 1 }, LogRecord 2 } }. */
export function decodeLogs(buffer: Buffer) {
  return {
    resourceLogs: all(fields(buffer), 1).map((rl) => ({
      scopeLogs: all(fields(rl.bytes!), 2).map((sl) => {
        const slFields = fields(sl.bytes!);
        return {
          scope: { name: text(one(fields(one(slFields, 1)?.bytes ?? Buffer.alloc(0)), 1)) },
          // LogRecord: body 5, attributes 6, trace_id 9, span_id 10.
          logRecords: all(slFields, 2).map((r) => {
            const record = fields(r.bytes!);
            return { traceId: hex(one(record, 9)), spanId: hex(one(record, 10)), body: anyValue(one(record, 5)?.bytes), attributes: attributes(record, 6) };
          }),
        };
      }),
    })),
  };
}

/** ExportMetricsServiceRequest: ResourceMetrics 1 { resource 1, ScopeMetrics 2 { scope 1, Metric 2 { name 1 } } }. */
export function decodeMetrics(buffer: Buffer) {
  return {
    resourceMetrics: all(fields(buffer), 1).map((rm) => ({
      scopeMetrics: all(fields(rm.bytes!), 2).map((sm) => ({ metrics: all(fields(sm.bytes!), 2).map((m) => ({ name: text(one(fields(m.bytes!), 1))! })) })),
    })),
  };
}
