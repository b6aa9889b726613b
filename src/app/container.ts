import type { Redis } from 'ioredis';
import type pg from 'pg';
import { createTokenVerifier, type TokenVerifier } from '../adapters/auth/index.js';
import { armSiteRestarter } from '../adapters/azure/siteRestarter.js';
import { blobImageStore } from '../adapters/blob/imageStore.js';
import { acsEmailNotifier } from '../adapters/notifications/acsEmailNotifier.js';
import { smtpNotifier } from '../adapters/notifications/smtpNotifier.js';
import { simulatedPaymentProvider } from '../adapters/payments/simulatedProvider.js';
import { postgresCategoryRepository } from '../adapters/postgres/categoryRepository.js';
import { postgresNotificationLedger } from '../adapters/postgres/notificationLedger.js';
import { postgresCheckoutLedger } from '../adapters/postgres/checkoutLedger.js';
import { postgresOrderStore } from '../adapters/postgres/orderStore.js';
import { postgresStrandedQueries } from '../adapters/postgres/strandedQueries.js';
import { postgresWatchdogState } from '../adapters/postgres/watchdogState.js';
import { OutboxRelay } from '../adapters/postgres/outbox.js';
import { entraScopes, managedIdentity, RefreshingToken } from '../adapters/identity/entraToken.js';
import { createPool } from '../adapters/postgres/pool.js';
import { ProductChangeListener } from '../adapters/postgres/productChanges.js';
import { postgresProductRepository } from '../adapters/postgres/productRepository.js';
import { RabbitMqPublisher } from '../adapters/rabbitmq/publisher.js';
import { QueueMonitor } from '../adapters/rabbitmq/queueMonitor.js';
import { redisCartStore } from '../adapters/redis/cartStore.js';
import { createRedis } from '../adapters/redis/client.js';
import { logger } from '../adapters/telemetry/logger.js';
import { expectedIssuer, settings, type Settings } from '../config.js';
import { cartService } from '../domain/cart.js';
import { categoryService } from '../domain/categories.js';
import { checkoutService } from '../domain/checkout.js';
import { centsFromNumber } from '../domain/money.js';
import { orderQueries } from '../domain/orders.js';
import type { PaymentPolicy } from '../domain/payments.js';
import { cachedCatalog, productService } from '../domain/products.js';
import type { ReadCache } from '../domain/readCache.js';
import type { ConsumerWatchdog } from './consumerWatchdog.js';
import { ReadThroughCache } from './readThroughCache.js';

/**
 * The composition root: adapters are created once per worker process, on first use, from the
 * validated settings; domain services receive them as plain interfaces.
 */
function build(s: Settings) {
  // In Azure the app signs in to Postgres and Redis as its managed identity; locally, with the URLs' credentials.
  const identity = s.DEPENDENCY_AUTH === 'managed-identity' ? managedIdentity(s.AZURE_CLIENT_ID) : undefined;
  const postgresToken = identity && new RefreshingToken(identity, entraScopes.postgres);
  const postgresPassword = postgresToken && (() => postgresToken.get());
  const db: pg.Pool = createPool(s.POSTGRES_URL, s.PG_POOL_MAX, postgresPassword);
  const redis: Redis = createRedis(s.REDIS_URL, identity && new RefreshingToken(identity, entraScopes.redis));
  const publisher = new RabbitMqPublisher(s.RABBITMQ_URL);
  const queueMonitor = new QueueMonitor(s.RABBITMQ_URL);
  const verifier: TokenVerifier = createTokenVerifier({
    tenantId: s.ENTRA_TENANT_ID,
    clientId: s.ENTRA_CLIENT_ID,
    issuer: expectedIssuer(s),
    jwksUri: s.ENTRA_JWKS_URI,
  });
  const products = postgresProductRepository(db);
  const categories = postgresCategoryRepository(db);
  const images = blobImageStore({ storage: s.PRODUCT_IMAGES_STORAGE, container: s.PRODUCT_IMAGES_CONTAINER, ...(s.AZURE_CLIENT_ID ? { managedIdentityClientId: s.AZURE_CLIENT_ID } : {}) });
  // Product pages, products and categories as the API shows them: cleared on catalog changes in any process (the
  // listener), after this process's own stock changes, and never older than 1 s (stock changed by
  // another instance's orders, or a missed notification).
  const productCache = new ReadThroughCache({ maxAgeMs: 1_000, maxEntries: 1_000 });
  // Names and prices for carts: no stock, so only catalog changes clear it; 60 s bounds a missed one.
  const catalogCache = new ReadThroughCache({ maxAgeMs: 60_000, maxEntries: 10_000 });
  // LISTEN needs a session of its own: PgBouncer's transaction pooling would drop it after the statement.
  const productChanges = new ProductChangeListener(s.POSTGRES_DIRECT_URL ?? s.POSTGRES_URL, [productCache, catalogCache], postgresPassword);
  productChanges.start();
  const catalog = cachedCatalog(products, catalogCache);
  // The catalog routes' own writes clear both at once, before their notification comes back.
  const catalogWrites: ReadCache = {
    getOrLoad: (key, load) => productCache.getOrLoad(key, load),
    invalidate: () => {
      productCache.invalidate();
      catalogCache.invalidate();
    },
  };
  const carts = redisCartStore(redis);
  const relay = new OutboxRelay(db, publisher);
  const orders = postgresOrderStore(db, relay, () => productCache.invalidate());
  const checkoutLedger = postgresCheckoutLedger(db, relay);
  const checkout = checkoutService({
    claims: carts,
    ledger: checkoutLedger,
    products: catalog,
    onAfterAcceptFailure: (step, error) => logger.warn(`checkout accepted, but could not ${step}`, { error }),
  });

  // As many SMTP sessions as pooled connections: a batch's sends beyond them wait for a session, inside its transaction.
  const smtp = s.ACS_EMAIL_ENDPOINT ? undefined : smtpNotifier(s.SMTP_URL, s.EMAIL_SENDER, s.PG_POOL_MAX);
  const notifier = s.ACS_EMAIL_ENDPOINT
    ? acsEmailNotifier({ endpoint: s.ACS_EMAIL_ENDPOINT, sender: s.EMAIL_SENDER, ...(s.AZURE_CLIENT_ID ? { managedIdentityClientId: s.AZURE_CLIENT_ID } : {}) })
    : smtp!;

  // In Azure only (the setting names the site): locally npm run dev's host watch restarts the host instead.
  const consumerWatchdog: ConsumerWatchdog | undefined = s.CONSUMER_WATCHDOG_SITE_ID
    ? {
        consumerCounts: (queues) => queueMonitor.consumerCounts(queues),
        store: postgresWatchdogState(db, s.CONSUMER_WATCHDOG_SITE_ID),
        restarter: armSiteRestarter({
          siteResourceId: s.CONSUMER_WATCHDOG_SITE_ID,
          resourceManagerEndpoint: s.AZURE_RESOURCE_MANAGER_ENDPOINT,
          credential: identity ?? managedIdentity(s.AZURE_CLIENT_ID),
        }),
        // The timer looks every minute (functions/watchdog.ts); its runs start up to a few seconds apart from the schedule.
        policy: { unconsumedForMs: s.CONSUMER_WATCHDOG_AFTER_SECONDS * 1000, minRestartIntervalMs: s.CONSUMER_WATCHDOG_RESTART_INTERVAL_SECONDS * 1000, lookJitterMs: 5_000 },
      }
    : undefined;

  return {
    settings: s,
    db,
    postgresPassword,
    redis,
    publisher,
    queueMonitor,
    consumerWatchdog,
    verifier,
    relay,
    orders,
    stranded: postgresStrandedQueries(db),
    checkoutLedger,
    paymentPolicy: { providerTimeoutMs: s.PAYMENT_PROVIDER_TIMEOUT_MS, leaseMs: s.PAYMENT_LEASE_SECONDS * 1000 } satisfies PaymentPolicy,
    paymentProvider: simulatedPaymentProvider(db, {
      declineAboveCents: centsFromNumber(s.PAYMENT_DECLINE_ABOVE) ?? Math.round(s.PAYMENT_DECLINE_ABOVE * 100),
      latencyMs: s.PAYMENT_LATENCY_MS,
    }),
    productService: productService(products, catalogWrites, { categories, images }),
    categoryService: categoryService(categories, catalogWrites),
    cartService: cartService(carts, catalog, (userId, claim) => checkout.settleStaleClaim(userId, claim)),
    checkoutService: checkout,
    orderQueries: orderQueries(orders),
    notifier,
    notificationLedger: postgresNotificationLedger(db),
    async close(): Promise<void> {
      // Published events not yet marked sent would only be published again by the sweep; wait a little.
      await Promise.race([relay.flush(), new Promise((resolve) => setTimeout(resolve, 2_000).unref())]);
      smtp?.close();
      await Promise.allSettled([publisher.close(), queueMonitor.close(), productChanges.close(), db.end(), redis.quit()]);
    },
  };
}

export type Services = ReturnType<typeof build>;

let instance: Services | undefined;

export function services(): Services {
  instance ??= build(settings());
  return instance;
}

/** Closes connections (appTerminate); a no-op when nothing was opened. */
export async function closeServices(): Promise<void> {
  const current = instance;
  instance = undefined;
  await current?.close();
}
