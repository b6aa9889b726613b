import { metrics, type Attributes, type Counter, type Histogram } from '@opentelemetry/api';

/**
 * The shop's business metrics (names as the Grafana dashboard queries them). Instruments are
 * created on first use from the global meter, so they are no-ops while telemetry is off and real
 * once the start-up telemetry module registered a meter provider.
 */
interface Instruments {
  checkoutsAccepted: Counter;
  ordersCompleted: Counter;
  checkoutDuration: Histogram;
  handlerFailures: Counter;
  deadLettered: Counter;
  ordersRecovered: Counter;
  httpServerDuration: Histogram;
}

let instruments: Instruments | undefined;

function meterInstruments(): Instruments {
  if (instruments) return instruments;
  const meter = metrics.getMeter('shop-functions');
  instruments = {
    checkoutsAccepted: meter.createCounter('shop.checkouts.accepted', { description: 'Checkouts accepted (202) and published' }),
    ordersCompleted: meter.createCounter('shop.orders.completed', { description: 'Orders that reached a final status, by status' }),
    checkoutDuration: meter.createHistogram('shop.checkout.duration', {
      description: "From an order's checkout to its final status",
      unit: 's',
      advice: { explicitBucketBoundaries: [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300] },
    }),
    handlerFailures: meter.createCounter('shop.handler.failures', { description: 'RabbitMQ-triggered invocations whose handler threw (retried)' }),
    deadLettered: meter.createCounter('shop.messages.deadlettered', { description: 'Messages moved to a dead-letter queue by a handler' }),
    ordersRecovered: meter.createCounter('shop.orders.recovered', {
      description: 'Stranded checkouts and orders the resolver acted on, by action (redriven, cancelled, payment_applied, payment_settled)',
    }),
    httpServerDuration: meter.createHistogram('http.server.request.duration', {
      description: 'Duration of HTTP-triggered invocations',
      unit: 's',
      advice: { explicitBucketBoundaries: [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10] },
    }),
  };
  return instruments;
}

export type FinalOrderStatus = 'PAID' | 'PAYMENT_FAILED' | 'REJECTED' | 'CANCELLED';

export const shopMetrics = {
  checkoutAccepted(): void {
    meterInstruments().checkoutsAccepted.add(1);
  },
  /** An order reached a final status; `checkedOutAt` gives the checkout-to-final-status latency. */
  orderCompleted(status: FinalOrderStatus, checkedOutAt: Date, now = Date.now()): void {
    const { ordersCompleted, checkoutDuration } = meterInstruments();
    ordersCompleted.add(1, { status });
    checkoutDuration.record(Math.max(0, now - checkedOutAt.getTime()) / 1000, { status });
  },
  handlerFailed(functionName: string): void {
    meterInstruments().handlerFailures.add(1, { function: functionName });
  },
  deadLettered(queue: string): void {
    meterInstruments().deadLettered.add(1, { queue });
  },
  ordersRecovered(action: string, count: number): void {
    if (count > 0) meterInstruments().ordersRecovered.add(count, { action });
  },
  httpRequest(durationSeconds: number, attributes: Attributes): void {
    meterInstruments().httpServerDuration.record(durationSeconds, attributes);
  },
};

/**
 * One read shared by the collections in flight: several readers (Azure Monitor and OTLP) collect on
 * their own schedules, and each must not cost a query of its own. A failed read yields undefined.
 */
function sharedRead<T>(read: () => Promise<T>): () => Promise<T | undefined> {
  let pending: Promise<T | undefined> | undefined;
  return () =>
    (pending ??= read()
      .catch(() => undefined)
      .finally(() => (pending = undefined)));
}

/**
 * Reports `shop.outbox.backlog` (unsent outbox rows) at each metric collection by calling `read`;
 * nothing is queried while metrics are off (a no-op meter never collects). A failed read skips
 * that observation.
 */
export function observeOutboxBacklog(read: () => Promise<number>): void {
  const gauge = metrics.getMeter('shop-functions').createObservableGauge('shop.outbox.backlog', { description: 'Outbox rows not yet published' });
  const shared = sharedRead(read);
  gauge.addCallback(async (result) => {
    const value = await shared();
    if (value !== undefined) result.observe(value);
  });
}

/**
 * Reports `shop.orders.oldest_pending_age_seconds` (seconds since the oldest PENDING order's
 * checkout, 0 when none is) at each collection; the "orders stuck" alert fires above 300.
 */
export function observeOldestPendingOrder(read: () => Promise<number>): void {
  const gauge = metrics.getMeter('shop-functions').createObservableGauge('shop.orders.oldest_pending_age_seconds', {
    // No unit: the name says seconds, and a unit would be appended to it again as a Prometheus suffix.
    description: "Seconds since the oldest PENDING order's checkout (0 when none is PENDING)",
  });
  const shared = sharedRead(read);
  gauge.addCallback(async (result) => {
    const value = await shared();
    if (value !== undefined) result.observe(value);
  });
}

/**
 * Reports `shop.queue.dead_letter_depth{queue}` (messages waiting in each dead-letter queue) at each
 * collection. A queue the broker does not have, or a broker it cannot reach, is not read (the SDK's
 * cumulative gauge keeps reporting its last reading; the health alert covers those). The
 * dead-letter alert fires on any value above 0.
 */
export function observeDeadLetterDepth(read: () => Promise<Record<string, number | 'missing'>>): void {
  const gauge = metrics.getMeter('shop-functions').createObservableGauge('shop.queue.dead_letter_depth', { description: 'Messages waiting in a dead-letter queue, by queue' });
  const shared = sharedRead(read);
  gauge.addCallback(async (result) => {
    for (const [queue, depth] of Object.entries((await shared()) ?? {})) if (depth !== 'missing') result.observe(depth, { queue });
  });
}

/**
 * Reports `shop.queue.consumers{queue}` (consumers of each trigger queue, as the broker counts them) at
 * each collection; a missing queue has none and reports 0. Nothing while the broker cannot be reached
 * (the broker alerts cover that). The consumer-missing alert fires on 0.
 */
export function observeQueueConsumers(read: () => Promise<Record<string, number | 'missing'>>): void {
  const gauge = metrics.getMeter('shop-functions').createObservableGauge('shop.queue.consumers', { description: 'Consumers of a trigger queue, by queue (0 when the queue is missing)' });
  const shared = sharedRead(read);
  gauge.addCallback(async (result) => {
    for (const [queue, consumers] of Object.entries((await shared()) ?? {})) result.observe(consumers === 'missing' ? 0 : consumers, { queue });
  });
}

/** For tests: forget instruments bound to a previous meter provider. */
export function resetMetricInstruments(): void {
  instruments = undefined;
}
