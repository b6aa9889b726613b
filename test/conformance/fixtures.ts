import { randomBytes, randomUUID } from 'node:crypto';
import type { RpcInvocationRequest, RpcTypedData } from '../../src/host/coreTypes.js';

/*
 * Invocation requests shaped as the Functions host sends them to the Node worker, from the sources
 * (mirrored commits in docs/local-host.md, "Checked against the sources"):
 *
 * - Azure/azure-functions-host src/WebJobs.Script.Grpc/Extensions/ScriptInvocationContextExtensions.cs
 *   `ToRpcInvocationRequest`: inputs become `inputData`; every binding datum but the HTTP request
 *   itself and `sys` becomes `triggerMetadata`; `traceContext` is the current Activity's
 *   (src/WebJobs.Script/Description/Workers/WorkerFunctionInvoker.cs): for HTTP the host's ASP.NET Core
 *   request span, with its tags as attributes; for RabbitMQ and timers none, as captured
 *   (captured/applyPayment.json, captured/outboxSweep.json: the extension's consumer activity is not
 *   from an `Azure.*` source, which is all the host listens to).
 * - Azure/azure-functions-host src/WebJobs.Script.Grpc/MessageExtensions/GrpcMessageConversionExtensions.cs
 *   `ToRpc`: string -> `string`, byte[] -> `bytes`, JObject -> `json`, double -> `double`, anything
 *   else -> `ToRpcDefault`: `json` from Json.NET, or `string` = `ToString()` when that throws
 *   (how BasicProperties become "RabbitMQ.Client.Framing.BasicProperties",
 *   azure-functions-rabbitmq-extension#119). `ToRpcHttp` builds the RpcHttp from the request.
 * - Azure/azure-functions-nodejs-worker src/eventHandlers/getWorkerCapabilities.ts: the worker asks for
 *   RawHttpBodyBytes, RpcHttpBodyOnly, UseNullableValueDictionaryForHttp,
 *   IgnoreEmptyValuedRpcHttpHeaders and RpcHttpTriggerMetadataRemoved, so the body is `bytes`, there is
 *   no `rawBody`, and headers, query and route values come as `nullableHeaders`, `nullableQuery`,
 *   `nullableParams` of `{ value }`.
 * - Azure/azure-functions-rabbitmq-extension extension/WebJobs.Extensions.RabbitMQ/Trigger/
 *   RabbitMQTriggerBinding.cs `CreateBindingData` (ConsumerTag, DeliveryTag, Redelivered, Exchange,
 *   RoutingKey, BasicProperties, Body) and BasicDeliverEventArgsValueProvider.cs `ToInvokeString`
 *   (the body as a UTF-8 string); RabbitMQ.Client 6.4's BasicProperties (string headers are byte[]:
 *   base64 in JSON).
 *
 * The first input's `name` is the trigger binding's; the harness sets it from the app's metadata,
 * as the host takes it from the metadata the worker reported.
 */

const triggerInput = (data: RpcTypedData) => [{ name: 'trigger', data }];
const nullable = (values: Record<string, string>) => Object.fromEntries(Object.entries(values).map(([key, value]) => [key, { value }]));
const hex = (bytes: number) => randomBytes(bytes).toString('hex');

/** The host's request span when it invoked an HTTP function: a child of the caller's trace, or a root (captured/health.json). */
function requestTraceContext(url: URL, method: string, traceId = hex(16)): RpcInvocationRequest['traceContext'] {
  const attributes = { 'server.address': url.hostname, 'http.request.method': method, 'url.scheme': 'http', 'url.path': url.pathname, 'network.protocol.version': '1.1', 'user_agent.original': 'conformance-test' };
  return { traceParent: `00-${traceId}-${hex(8)}-01`, traceState: '', attributes };
}

/** No Activity when a RabbitMQ message or a timer invokes (captured/applyPayment.json, captured/outboxSweep.json). */
const noTraceContext = (): RpcInvocationRequest['traceContext'] => ({ traceParent: '', traceState: '', attributes: {} });

export interface HttpFixture {
  method: string;
  /** Path under the route prefix and query string, e.g. `products?limit=1`. */
  path: string;
  headers?: Record<string, string>;
  /** Route values the host's router extracted. */
  params?: Record<string, string>;
  body?: string;
  traceId?: string;
}

export function httpRequest({ method, path, headers = {}, params = {}, body, traceId }: HttpFixture): Omit<RpcInvocationRequest, 'invocationId'> {
  const url = new URL(`http://localhost:7071/api/${path}`);
  const allHeaders = { host: 'localhost:7071', 'user-agent': 'conformance-test', ...(body ? { 'content-length': String(Buffer.byteLength(body)) } : {}), ...headers };
  const query = Object.fromEntries(url.searchParams);
  return {
    functionId: randomUUID(),
    inputData: triggerInput({
      http: {
        method,
        url: url.toString(),
        nullableHeaders: nullable(allHeaders),
        nullableQuery: nullable(query),
        nullableParams: nullable(params),
        identities: [],
        ...(body ? { body: { bytes: Buffer.from(body) } } : {}),
      },
    }),
    // Binding data of the HTTP trigger besides the request (which RpcHttpTriggerMetadataRemoved drops).
    triggerMetadata: {
      Query: { json: JSON.stringify(query) },
      Headers: { json: JSON.stringify(allHeaders) },
      ...Object.fromEntries(Object.entries(params).map(([key, value]) => [key, { string: value }])),
    },
    traceContext: requestTraceContext(url, method, traceId),
  };
}

export interface RabbitMqFixture {
  body: string;
  routingKey: string;
  /** Message properties; `undefined` for the host that cannot serialize them (#119). */
  properties?: { messageId?: string; type?: string; headers?: Record<string, string | number> };
  deliveryTag?: number;
}

/** BasicProperties as Json.NET serializes RabbitMQ.Client 6.4's `BasicProperties` (every public property). */
function basicPropertiesJson(properties: NonNullable<RabbitMqFixture['properties']>): string {
  const headers = Object.fromEntries(
    Object.entries(properties.headers ?? {}).map(([name, value]) => [name, typeof value === 'string' ? Buffer.from(value).toString('base64') : value]),
  );
  return JSON.stringify({
    AppId: 'shop-functions',
    ClusterId: null,
    ContentEncoding: null,
    ContentType: 'application/json',
    CorrelationId: null,
    DeliveryMode: 2,
    Expiration: null,
    Headers: headers,
    MessageId: properties.messageId ?? null,
    Persistent: true,
    Priority: 0,
    ReplyTo: null,
    ReplyToAddress: null,
    Timestamp: { UnixTime: Math.floor(Date.now() / 1000) },
    Type: properties.type ?? null,
    UserId: null,
    ProtocolClassId: 60,
    ProtocolClassName: 'basic',
  });
}

export function rabbitMqRequest({ body, routingKey, properties, deliveryTag = 1 }: RabbitMqFixture): Omit<RpcInvocationRequest, 'invocationId'> {
  return {
    functionId: randomUUID(),
    inputData: triggerInput({ string: body }),
    triggerMetadata: {
      ConsumerTag: { string: `amq.ctag-${hex(8)}` },
      DeliveryTag: { json: JSON.stringify(deliveryTag) },
      Redelivered: { json: 'false' },
      Exchange: { string: 'shop.events' },
      RoutingKey: { string: routingKey },
      BasicProperties: properties ? { json: basicPropertiesJson(properties) } : { string: 'RabbitMQ.Client.Framing.BasicProperties' },
      // ReadOnlyMemory<byte> fails Json.NET (its Span cannot be boxed): ToString().
      Body: { string: `System.ReadOnlyMemory<Byte>[${Buffer.byteLength(body)}]` },
    },
    traceContext: noTraceContext(),
  };
}

/** TimerInfo as Json.NET serializes it (azure-webjobs-sdk-extensions TimerTrigger). */
export function timerRequest(): Omit<RpcInvocationRequest, 'invocationId'> {
  const now = new Date();
  const timerInfo = {
    Schedule: { AdjustForDST: true },
    ScheduleStatus: { Last: new Date(now.getTime() - 10_000).toISOString(), Next: new Date(now.getTime() + 10_000).toISOString(), LastUpdated: now.toISOString() },
    IsPastDue: false,
  };
  return { functionId: randomUUID(), inputData: triggerInput({ json: JSON.stringify(timerInfo) }), triggerMetadata: {}, traceContext: noTraceContext() };
}
