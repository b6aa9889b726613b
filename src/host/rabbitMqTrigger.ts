import amqp, { type Channel, type ChannelModel, type ConfirmChannel, type ConsumeMessage } from 'amqplib';
import type { AppRegistry, RegisteredFunction } from './functionsCore.js';
import type { RpcBindingInfo, RpcTypedData } from './coreTypes.js';
import type { HostOptions, RabbitMqPropertiesDelivery } from './hostConfig.js';
import { withFunctionTimeout } from './functionTimeout.js';
import { invokeFunction } from './invoke.js';
import type { HostLogger } from './logger.js';

/** Header the RabbitMQ extension keeps its delivery count in (RabbitMQListener.cs). */
export const requeueCountHeader = 'x-ms-rabbitmq-requeuecount';
/** The extension's rule: a message whose handler failed this many times is rejected into the DLX. */
export const maxDeliveryAttempts = 5;

export interface RabbitMqFunction {
  fn: RegisteredFunction;
  triggerName: string;
  queueName: string;
  connectionStringSetting: string;
}

export function rabbitMqFunctions(registry: AppRegistry): RabbitMqFunction[] {
  return registry.functionsWithTrigger('rabbitMQTrigger').map(({ fn, triggerName, binding }) => {
    const { queueName, connectionStringSetting } = binding as RpcBindingInfo & { queueName?: string; connectionStringSetting?: string };
    if (!queueName) throw new Error(`Function "${fn.metadata.name}": rabbitMQTrigger needs a queueName`);
    if (!connectionStringSetting) {
      throw new Error(`Function "${fn.metadata.name}": rabbitMQTrigger needs a connectionStringSetting (the name of an app setting)`);
    }
    return { fn, triggerName, queueName, connectionStringSetting };
  });
}

/** What a Node function gets for BasicProperties when the host cannot serialize them (azure-functions-rabbitmq-extension#119). */
export const opaqueBasicProperties = 'RabbitMQ.Client.Framing.BasicProperties';

/**
 * What the extension v2 hands an out-of-process worker: the body as a UTF-8 string (no `dataType`
 * means string; the library then JSON-parses it, so a JSON body arrives as an object) and the
 * delivery's properties as trigger metadata named as in RabbitMQ.Client's BasicDeliverEventArgs,
 * serialized the way the host does (GrpcMessageConversionExtensions.ToRpc): string header values
 * are byte[] in .NET, so they arrive base64; a ulong or bool becomes JSON; an object that fails
 * JSON serialization becomes its ToString(), which `opaque` reproduces for BasicProperties.
 */
export function rabbitMqInvocationRequest(triggerName: string, message: ConsumeMessage, properties: RabbitMqPropertiesDelivery = 'json') {
  const p = message.properties;
  const headers = Object.fromEntries(
    Object.entries(p.headers ?? {}).map(([name, value]) => [name, typeof value === 'string' ? Buffer.from(value).toString('base64') : value]),
  );
  // RabbitMQ.Client 6.4's BasicProperties as the host serializes them: every member, null when unset
  // (test/conformance/captured/applyPayment.json).
  const basicProperties = {
    ContentType: p.contentType ?? null,
    ContentEncoding: p.contentEncoding ?? null,
    Headers: headers,
    DeliveryMode: p.deliveryMode ?? 1,
    Priority: p.priority ?? 0,
    CorrelationId: p.correlationId ?? null,
    ReplyTo: p.replyTo ?? null,
    Expiration: p.expiration ?? null,
    MessageId: p.messageId ?? null,
    Timestamp: { UnixTime: p.timestamp ?? 0 },
    Type: p.type ?? null,
    UserId: p.userId ?? null,
    AppId: p.appId ?? null,
    ClusterId: null,
    ProtocolClassId: 60,
    ProtocolClassName: 'basic',
    Persistent: p.deliveryMode === 2,
    ReplyToAddress: null,
  };
  const triggerMetadata: Record<string, RpcTypedData> = {
    BasicProperties: properties === 'json' ? { json: JSON.stringify(basicProperties) } : { string: opaqueBasicProperties },
    ConsumerTag: { string: message.fields.consumerTag },
    DeliveryTag: { json: JSON.stringify(Number(message.fields.deliveryTag)) },
    Redelivered: { json: JSON.stringify(message.fields.redelivered) },
    Exchange: { string: message.fields.exchange },
    RoutingKey: { string: message.fields.routingKey },
  };
  // No trace context, as the real host sends none for a RabbitMQ message (test/conformance/captured/applyPayment.json):
  // the extension's consumer activity comes from an ActivitySource the host does not listen to. The app
  // continues the message's traceparent header instead.
  const traceContext = { traceParent: '', traceState: '', attributes: {} };
  return { inputData: [{ name: triggerName, data: { string: message.content.toString('utf8') } }], triggerMetadata, traceContext };
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}

/**
 * Consumes one RabbitMQ connection's queues for the app's rabbitMQTrigger functions, with the
 * extension's semantics: prefetch from host.json, ack after the handler completes, a failed
 * invocation republished to the tail of its queue with the requeue-count header + 1 and the original
 * acked, and after `maxDeliveryAttempts` a `reject(requeue=false)` so the queue's own dead-letter
 * exchange takes it. Queues are never declared. The connection is re-established after a broker
 * restart; messages unacked when it dropped are redelivered by the broker.
 */
export class RabbitMqTriggerListener {
  #connection: ChannelModel | undefined;
  #republish: ConfirmChannel | undefined;
  readonly #consumers = new Map<Channel, string>();
  readonly #inFlight = new Set<Promise<void>>();
  #stopping = false;
  #connecting: Promise<void> | undefined;
  #attempt = 0;

  constructor(
    private readonly registry: AppRegistry,
    private readonly url: string,
    private readonly functions: RabbitMqFunction[],
    private readonly options: HostOptions,
    private readonly logger: HostLogger,
  ) {}

  /** Connects and starts consuming; resolves once every queue has a consumer (retrying until then). */
  start(): Promise<void> {
    this.#connecting ??= this.#connectWithRetry().finally(() => (this.#connecting = undefined));
    return this.#connecting;
  }

  async #connectWithRetry(): Promise<void> {
    while (!this.#stopping) {
      try {
        await this.#connect();
        this.#attempt = 0;
        return;
      } catch (error) {
        await this.#closeConnection();
        this.#attempt++;
        const wait = Math.min(500 * 2 ** Math.min(this.#attempt - 1, 4), 5_000);
        this.logger.error(`RabbitMQ trigger: ${(error as Error).message}; retrying in ${wait} ms`);
        await delay(wait);
      }
    }
  }

  async #connect(): Promise<void> {
    const connection = await amqp.connect(this.url, { clientProperties: { connection_name: 'functions-local-host' } });
    this.#connection = connection;
    connection.on('error', () => {
      // 'close' follows; reconnection is handled there.
    });
    connection.on('close', () => {
      if (this.#connection !== connection) return;
      this.#connection = undefined;
      this.#republish = undefined;
      this.#consumers.clear();
      if (!this.#stopping) {
        this.logger.error('RabbitMQ trigger: connection lost; reconnecting');
        void this.start();
      }
    });
    this.#republish = await connection.createConfirmChannel();
    for (const target of this.functions) {
      const channel = await connection.createChannel();
      channel.on('error', (error: Error) => this.logger.error(`RabbitMQ trigger ${target.fn.metadata.name}: channel error: ${error.message}`));
      // A consumer channel closed by the broker (e.g. its queue was deleted) restarts the whole connection.
      channel.on('close', () => {
        if (this.#consumers.has(channel) && this.#connection === connection && !this.#stopping) void connection.close().catch(() => undefined);
      });
      await channel.prefetch(this.options.prefetchCount);
      // Fails (and closes the channel) when the queue is missing, like the extension: run `npm run setup`.
      await channel.checkQueue(target.queueName).catch((error: Error) => {
        throw new Error(`queue "${target.queueName}" for function "${target.fn.metadata.name}" is not available (${error.message}); run npm run setup`);
      });
      const { consumerTag } = await channel.consume(target.queueName, (message) => {
        // Cancelled by the broker (its queue was deleted): like the extension's listener, this one does not
        // consume again; /api/health reports the queue without a consumer.
        if (!message) return;
        const work = this.#deliver(channel, target, message);
        this.#inFlight.add(work);
        void work.finally(() => this.#inFlight.delete(work));
      });
      this.#consumers.set(channel, consumerTag);
    }
  }

  async #deliver(channel: Channel, target: RabbitMqFunction, message: ConsumeMessage): Promise<void> {
    const name = target.fn.metadata.name;
    try {
      // A timeout fails the invocation, so the extension's retry rule below applies (docs/local-host.md).
      const invocation = invokeFunction(this.registry, target.fn, rabbitMqInvocationRequest(target.triggerName, message, this.options.rabbitMqProperties), this.logger);
      await withFunctionTimeout(invocation, this.options.functionTimeoutMs, name);
      channel.ack(message);
      return;
    } catch (error) {
      this.logger.error(`Executed '${name}' (Failed): ${(error as Error)?.message ?? String(error)}`);
    }
    try {
      await this.#retryOrReject(channel, target, message);
    } catch (error) {
      // The channel or connection is gone: the broker redelivers the unacked message.
      this.logger.error(`RabbitMQ trigger ${name}: could not settle a failed message (${(error as Error).message}); the broker will redeliver it`);
    }
  }

  async #retryOrReject(channel: Channel, target: RabbitMqFunction, message: ConsumeMessage): Promise<void> {
    const headers = message.properties.headers ?? {};
    const previous = Number(headers[requeueCountHeader] ?? 0);
    const requeueCount = Number.isFinite(previous) ? previous + 1 : 1;
    if (requeueCount >= maxDeliveryAttempts) {
      this.logger.error(`RabbitMQ trigger ${target.fn.metadata.name}: message failed ${requeueCount} times; rejecting it to the queue's dead-letter exchange`);
      channel.reject(message, false);
      return;
    }
    const republish = this.#republish;
    if (!republish) throw new Error('no publish channel');
    const { properties } = message;
    republish.sendToQueue(target.queueName, message.content, {
      ...Object.fromEntries(Object.entries(properties).filter(([, v]) => v !== undefined)),
      headers: { ...headers, [requeueCountHeader]: requeueCount },
    });
    // Confirmed before the original is acked, so a crash in between duplicates rather than loses it.
    await republish.waitForConfirms();
    channel.ack(message);
  }

  /** Stops consuming, lets in-flight invocations finish (up to the host's drain limit), then disconnects. */
  async close(): Promise<void> {
    this.#stopping = true;
    await Promise.allSettled([...this.#consumers].map(([channel, tag]) => channel.cancel(tag)));
    await Promise.race([Promise.allSettled([...this.#inFlight]), delay(this.options.shutdownDrainMs)]);
    await this.#closeConnection();
  }

  async #closeConnection(): Promise<void> {
    const connection = this.#connection;
    const channels = [...this.#consumers.keys(), ...(this.#republish ? [this.#republish] : [])];
    this.#connection = undefined;
    this.#republish = undefined;
    this.#consumers.clear();
    // Channels first: amqplib may send connection.close ahead of acks still queued on a channel,
    // and the broker would then requeue messages that were handled. channel.close waits for close-ok.
    await Promise.allSettled(channels.map((channel) => channel.close()));
    await connection?.close().catch(() => undefined);
  }
}
