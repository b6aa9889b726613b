import { app, trigger, type InvocationContext } from '@azure/functions';
import { claimedEventType, headerText, readTriggerMessage, type TriggerMessage } from '../adapters/rabbitmq/triggerMessage.js';
import { isPostgresUnavailable } from '../adapters/postgres/pool.js';
import { bindings, deadLetterQueueOf, retryQueueOf, type EventTypeOn, type QueueName } from '../adapters/rabbitmq/topology.js';
import { logger } from '../adapters/telemetry/logger.js';
import { shopMetrics } from '../adapters/telemetry/metrics.js';
import { eventSchema, type EventPayload } from '../domain/events.js';
import { isUuid, uuidv7 } from '../domain/ids.js';
import { PaymentLeaseHeld } from '../domain/payments.js';
import { AppError } from '../errors.js';
import { services } from './container.js';

export const deadLetterReasonHeader = 'x-dead-letter-reason';
/** How many times a message went through `<queue>.retry` because a dependency was down. */
export const transientRetriesHeader = 'x-transient-retries';
/** The attempt a parked message continues (see `Delivery.attemptId`). */
export const attemptIdHeader = 'x-attempt-id';
/** The RabbitMQ extension's rule: the fifth failed attempt is rejected into the queue's dead-letter exchange. */
const extensionMaxAttempts = 5;

export interface ConsumeOptions<Q extends QueueName> {
  /** The queue consumed; it takes the event types bound to it (topology.ts), a message of another type is dead-lettered. */
  queue: Q;
  handle: (event: EventPayload<EventTypeOn<Q>>, message: Delivery<EventTypeOn<Q>>, context: InvocationContext) => Promise<unknown>;
}

export interface Delivery<T extends string> extends TriggerMessage {
  type: T;
  /**
   * New for each delivery, and the same across this invocation's retries after a dependency failed
   * and when the message comes back from `<queue>.retry`: the payment id when this attempt starts a
   * payment, and the lease holder's id when it takes one over. Nothing depends on it surviving
   * parking: any attempt takes a payment over only once its lease has expired.
   */
  attemptId: string;
}

/**
 * How long one invocation keeps retrying while a dependency (Postgres, the broker) is unavailable,
 * before it parks the message in `<queue>.retry`. Well under host.json's functionTimeout (5 min).
 */
export const transientRetryBudgetMs = 60_000;

// Serialization failure, deadlock, statement timeout (a lock held by a dying session), lock not available.
const transientSqlStates = new Set(['40001', '40P01', '57014', '55P03']);

/**
 * A failure that says nothing about the message: the same message succeeds once the dependency
 * recovers, or once the lease another attempt holds on the order's payment has expired.
 */
export function isTransient(error: unknown): boolean {
  if (error instanceof PaymentLeaseHeld) return true;
  if (error instanceof AppError) return error.code === 'dependency_unavailable';
  const code = (error as { code?: unknown } | undefined)?.code;
  return (typeof code === 'string' && transientSqlStates.has(code)) || isPostgresUnavailable(error);
}

/** How often a delivery that found the order's payment leased looks again: it takes over within this of the lease's expiry. */
export const leaseRecheckMs = 1_000;

/**
 * Runs the use-case, retrying with backoff (0.25 s doubling to 5 s) while a dependency is down.
 * The extension retries a failed message at once, so without this a restart of a few seconds would
 * use up its five attempts and dead-letter messages that only needed to wait. A payment leased to
 * another attempt is looked at again every second instead, so the broker's redelivery after a crash
 * takes it over as soon as its lease expires, not up to a backoff step later.
 */
async function withTransientRetry(work: () => Promise<unknown>, context: InvocationContext, budgetMs: number): Promise<void> {
  const deadline = Date.now() + budgetMs;
  for (let attempt = 0; ; attempt++) {
    try {
      await work();
      return;
    } catch (error) {
      const wait = error instanceof PaymentLeaseHeld ? leaseRecheckMs : Math.min(250 * 2 ** attempt, 5_000);
      if (!isTransient(error) || Date.now() + wait > deadline) throw error;
      if (attempt === 0 && error instanceof PaymentLeaseHeld) logger.info('the payment is leased to another attempt; retrying until it is settled or the lease expires', { function: context.functionName, orderId: error.orderId });
      else if (attempt === 0) logger.warn('a dependency is unavailable; retrying the message', { function: context.functionName, error });
      await new Promise((resolve) => setTimeout(resolve, wait));
    }
  }
}

/**
 * The shared body of every RabbitMQ-triggered function: read the message, dead-letter it at once
 * with the reason when it can never succeed (unknown type, invalid payload), else run the
 * use-case, riding out short dependency outages. An error that remains propagates, so the
 * extension's retry rule applies (five attempts, then the queue's dead-letter exchange).
 */
async function consumeEvent<Q extends QueueName>(input: unknown, context: InvocationContext, options: ConsumeOptions<Q>): Promise<void> {
  const message = readTriggerMessage(input, context);
  const accepted: readonly EventTypeOn<Q>[] = bindings[options.queue];
  const claimed = claimedEventType(message, accepted);
  const type = accepted.find((candidate) => candidate === claimed);
  if (!type) {
    return deadLetter(options.queue, message, `unexpected event type ${JSON.stringify(claimed ?? null)}; this queue takes ${accepted.join(', ')}`, context);
  }
  const parsed = eventSchema(type).safeParse(message.json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const where = issue.path.length ? issue.path.join('.') : 'body';
    return deadLetter(options.queue, message, `invalid ${type}: ${where}: ${issue.message}`, context);
  }
  const parkedAttempt = headerText(message.headers[attemptIdHeader]);
  const delivery = { ...message, type, attemptId: parkedAttempt && isUuid(parkedAttempt) ? parkedAttempt : uuidv7() };
  try {
    await withTransientRetry(() => options.handle(parsed.data, delivery, context), context, transientRetryBudgetMs);
  } catch (error) {
    shopMetrics.handlerFailed(context.functionName);
    // An outage longer than the budget must not use up the extension's five attempts: the message
    // waits in the retry queue and comes back, for as long as the outage lasts.
    if (isTransient(error) && (await parkForRetry(options.queue, delivery, context))) return;
    if (message.requeueCount + 1 >= extensionMaxAttempts) shopMetrics.deadLettered(options.queue);
    throw error;
  }
}

/** Moves the message to `<queue>.retry` (confirmed before the original is acked); false when the broker cannot take it. */
async function parkForRetry(queue: QueueName, message: Delivery<string>, context: InvocationContext): Promise<boolean> {
  const retries = Number(message.headers[transientRetriesHeader] ?? 0) + 1;
  const headers: Record<string, unknown> = { [transientRetriesHeader]: retries, [attemptIdHeader]: message.attemptId };
  if (message.trace.traceparent) headers.traceparent = message.trace.traceparent;
  try {
    await services().publisher.sendToQueue(retryQueueOf(queue), message.raw, { messageId: message.messageId, type: message.type, headers });
  } catch (error) {
    logger.warn('could not park the message for a later retry', { function: context.functionName, queue, messageId: message.messageId, error });
    return false;
  }
  logger.warn('a dependency is still unavailable; the message will be retried later', { function: context.functionName, queue, messageId: message.messageId, retries });
  return true;
}

/** Registers a RabbitMQ-triggered function on `options.queue` whose body is `consumeEvent`. */
export function eventConsumer<Q extends QueueName>(name: string, options: ConsumeOptions<Q>): void {
  app.generic(name, {
    trigger: trigger.generic({ type: 'rabbitMQTrigger', queueName: options.queue, connectionStringSetting: 'RABBITMQ_URL' }),
    handler: (message, context) => consumeEvent(message, context, options),
  });
}

async function deadLetter(queue: QueueName, message: TriggerMessage, reason: string, context: InvocationContext): Promise<void> {
  const headers: Record<string, unknown> = { [deadLetterReasonHeader]: reason, 'x-original-queue': queue };
  if (message.trace.traceparent) headers.traceparent = message.trace.traceparent;
  // Confirmed by the broker before the handler returns and the original is acked: never dropped.
  await services().publisher.sendToQueue(deadLetterQueueOf(queue), message.raw, {
    messageId: message.messageId,
    type: message.type,
    headers,
  });
  shopMetrics.deadLettered(queue);
  logger.warn('message dead-lettered', { function: context.functionName, queue, messageId: message.messageId, reason });
}
