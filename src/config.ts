import { z } from 'zod';
import { DEV_TENANT_ID } from './dev-issuer/constants.js';

/**
 * Every app setting the code reads, with its meaning. This module is the only reader of
 * `process.env` for application settings; `infra/` and `local.settings.sample.json` are
 * tested against this list.
 */
const settingsSchema = z.object({
  POSTGRES_URL: z.url({ protocol: /^postgres(ql)?$/ }).describe('Postgres connection string (through PgBouncer in Azure, dev and tests)'),
  POSTGRES_DIRECT_URL: z
    .url({ protocol: /^postgres(ql)?$/ })
    .optional()
    .describe("Session connection past PgBouncer, for LISTEN and the migrations' advisory lock; default POSTGRES_URL"),
  REDIS_URL: z.url({ protocol: /^rediss?$/ }).describe('Redis connection string'),
  RABBITMQ_URL: z.url({ protocol: /^amqps?$/ }).describe("AMQP URL; also the RabbitMQ trigger's connectionStringSetting"),
  ENTRA_TENANT_ID: z.guid().describe('Entra tenant id'),
  ENTRA_CLIENT_ID: z.guid().describe("The API's application (client) id"),
  ENTRA_ISSUER: z.url().optional().describe('Expected token issuer; default https://login.microsoftonline.com/<tenant>/v2.0'),
  ENTRA_JWKS_URI: z.url().optional().describe("Signing keys; default from the issuer's OpenID discovery document"),
  APPLICATIONINSIGHTS_CONNECTION_STRING: z.string().min(1).optional().describe('Azure Monitor export when set'),
  OTEL_EXPORTER_OTLP_ENDPOINT: z.url().optional().describe('OTLP/HTTP export when set'),
  OTEL_EXPORTER_OTLP_PROTOCOL: z
    .literal('http/protobuf')
    .optional()
    .describe("Read by the Functions host's own OTLP exporter (gRPC by default) sharing the endpoint: the app's exporters speak OTLP/HTTP"),
  CATALOG_PUBLIC_READ: z
    .enum(['true', 'false'])
    .default('false')
    .transform((value) => value === 'true')
    .describe('true: GET /products, GET /products/{id} and GET /categories answer without a token (a token sent must still be valid)'),
  PRODUCT_IMAGES_STORAGE: z
    .string()
    .min(1)
    .default('UseDevelopmentStorage=true')
    .refine((value) => /^https:\/\/[^\s/]+\/?$/i.test(value) || value.includes('='), 'must be an https:// blob service URL or a storage connection string')
    .describe('Product images: a blob service URL (https://<account>.blob.core.windows.net, reached with the managed identity) or a connection string (UseDevelopmentStorage=true: Azurite)'),
  PRODUCT_IMAGES_CONTAINER: z
    .string()
    .regex(/^[a-z0-9](?!.*--)[a-z0-9-]{1,61}[a-z0-9]$/, 'must be a blob container name')
    .default('product-images')
    .describe('Blob container of product images; its blobs are publicly readable'),
  PG_POOL_MAX: z.coerce.number().int().min(1).max(200).default(10).describe('Postgres pool size per worker process'),
  PAYMENT_DECLINE_ABOVE: z.coerce
    .number()
    .nonnegative()
    .default(10000)
    .describe('Simulated payment provider: orders with a total above this amount are declined'),
  PAYMENT_LATENCY_MS: z.coerce.number().int().min(0).max(60000).default(0).describe('Simulated payment provider latency'),
  PAYMENT_PROVIDER_TIMEOUT_MS: z.coerce
    .number()
    .int()
    .min(100)
    .max(48000)
    .default(8000)
    .describe('Deadline of one provider call; past it the call is given up on and its outcome settled later from the provider\'s record'),
  PAYMENT_LEASE_SECONDS: z.coerce
    .number()
    .int()
    .min(1)
    .max(50)
    .default(12)
    .describe('How long a PENDING payment stays leased to the attempt calling the provider; another delivery or the resolver takes it over only after that'),
  ORDER_REDRIVE_AFTER_SECONDS: z.coerce
    .number()
    .int()
    .min(1)
    .max(86400)
    .default(120)
    .describe('A checkout or PENDING order idle this long has its event published again by the stranded-order resolver'),
  ORDER_CANCEL_AFTER_SECONDS: z.coerce
    .number()
    .int()
    .min(1)
    .max(604800)
    .default(1800)
    .describe('A checkout still not PAID/failed this long after checkout, with no payment started, is CANCELLED and its stock returned'),
  EMAIL_SENDER: z.string().min(3).max(320).default('Shop <shop@localhost>').describe("The From address of customer notifications (in Azure, an address of the Communication Services email domain)"),
  SMTP_URL: z
    .url({ protocol: /^smtps?$/ })
    .default('smtp://127.0.0.1:1025')
    .describe('Customer notifications go to this SMTP server unless ACS_EMAIL_ENDPOINT is set (locally the SMTP catcher npm run dev starts)'),
  ACS_EMAIL_ENDPOINT: z.url({ protocol: /^https$/ }).optional().describe('Azure Communication Services endpoint: when set, notifications are sent through its Email service with the managed identity'),
  DEPENDENCY_AUTH: z
    .enum(['url', 'managed-identity'])
    .default('url')
    .describe("How the app signs in to Postgres and Redis: with the credentials in their URLs, or (Azure) with the managed identity's Entra token as the password"),
  CONSUMER_WATCHDOG_SITE_ID: z
    .string()
    .regex(/^\/subscriptions\/[^/]+\/resourceGroups\/[^/]+\/providers\/Microsoft\.Web\/sites\/[^/]+$/i, 'must be a Function App resource id (/subscriptions/.../providers/Microsoft.Web/sites/<name>)')
    .optional()
    .describe("The Function App's own resource id: when set, the consumer watchdog restarts it through Azure Resource Manager once a trigger queue has had no consumer for CONSUMER_WATCHDOG_AFTER_SECONDS (unset locally, where npm run dev's host watch does that)"),
  CONSUMER_WATCHDOG_AFTER_SECONDS: z.coerce
    .number()
    .int()
    .min(60)
    .max(3600)
    .default(300)
    .describe('How long a trigger queue must have no consumer, the broker answering, before the watchdog restarts the app'),
  CONSUMER_WATCHDOG_RESTART_INTERVAL_SECONDS: z.coerce
    .number()
    .int()
    .min(300)
    .max(86400)
    .default(900)
    .describe('The watchdog restarts the app at most once per this many seconds, across all instances'),
  AZURE_RESOURCE_MANAGER_ENDPOINT: z
    .url()
    .default('https://management.azure.com')
    .describe("Azure Resource Manager, where the watchdog's restart goes (its /.default scope is the token's); another only for a sovereign cloud"),
  AZURE_CLIENT_ID: z.guid().optional().describe("Client id of the app's user-assigned managed identity (Azure Communication Services Email, product images in blob storage)"),
});

export type Settings = z.infer<typeof settingsSchema>;

/** Names of the settings the application reads (the host's own, such as AzureWebJobsStorage and PORT, are not among them). */
export const settingNames = Object.keys(settingsSchema.shape) as (keyof Settings)[];

/** Names of the settings whose values are secrets (kept in Key Vault in Azure, never logged). */
// The Postgres and Redis URLs carry no password in Azure (the identity signs in, DEPENDENCY_AUTH).
export const secretSettingNames: readonly (keyof Settings)[] = [
  'RABBITMQ_URL',
  'APPLICATIONINSIGHTS_CONNECTION_STRING',
];

export class ConfigError extends Error {
  override name = 'ConfigError';
}

/** Parses settings from an environment; throws a ConfigError whose message is one line naming the bad setting. */
export function parseSettings(env: NodeJS.ProcessEnv): Settings {
  const present = Object.fromEntries(settingNames.map((name) => [name, env[name] === '' ? undefined : env[name]]));
  const result = settingsSchema.safeParse(present);
  if (result.success) {
    refuseContradictions(result.data);
    if (env.WEBSITE_SITE_NAME) refuseDevelopmentValues(result.data);
    return result.data;
  }
  const issue = result.error.issues[0]!;
  const name = String(issue.path[0]);
  const problem = env[name] === undefined || env[name] === '' ? 'is missing' : `is invalid (${issue.message})`;
  throw new ConfigError(`Setting ${name} ${problem}`);
}

/** How much longer than the provider call's deadline a payment lease lasts, at least: the timers' lag and a request the provider was still finishing. */
export const leaseMarginMs = 2_000;

/**
 * Settings each valid alone but wrong together. The lease must outlast the provider call's deadline,
 * or a delivery or the resolver could take a payment over while its holder's call is still live (two
 * calls for one payment); a simulated latency at or past the deadline times every call out; and an
 * order cancelled before it is ever re-driven was never given its second chance. (host.json's
 * functionTimeout, 5 min, stays above the largest lease and deadline accepted here:
 * test/unit/config.test.ts.)
 */
function refuseContradictions(s: Settings): void {
  if (s.POSTGRES_DIRECT_URL && databaseOf(s.POSTGRES_DIRECT_URL) !== databaseOf(s.POSTGRES_URL)) {
    throw new ConfigError(
      `Settings POSTGRES_DIRECT_URL (database ${databaseOf(s.POSTGRES_DIRECT_URL)}) and POSTGRES_URL (database ${databaseOf(s.POSTGRES_URL)}) contradict each other: the migrations and the catalog's change notifications would run on another database than the app's queries`,
    );
  }
  if (s.PAYMENT_PROVIDER_TIMEOUT_MS + leaseMarginMs > s.PAYMENT_LEASE_SECONDS * 1000) {
    throw new ConfigError(
      `Settings PAYMENT_PROVIDER_TIMEOUT_MS (${s.PAYMENT_PROVIDER_TIMEOUT_MS}) and PAYMENT_LEASE_SECONDS (${s.PAYMENT_LEASE_SECONDS}) contradict each other: the lease must outlast the provider deadline by at least ${leaseMarginMs / 1000} s, or a payment could be taken over while its call is live`,
    );
  }
  if (s.PAYMENT_LATENCY_MS >= s.PAYMENT_PROVIDER_TIMEOUT_MS) {
    throw new ConfigError(`Settings PAYMENT_LATENCY_MS (${s.PAYMENT_LATENCY_MS}) and PAYMENT_PROVIDER_TIMEOUT_MS (${s.PAYMENT_PROVIDER_TIMEOUT_MS}) contradict each other: every simulated provider call would pass its deadline`);
  }
  if (s.ORDER_REDRIVE_AFTER_SECONDS >= s.ORDER_CANCEL_AFTER_SECONDS) {
    throw new ConfigError(
      `Settings ORDER_REDRIVE_AFTER_SECONDS (${s.ORDER_REDRIVE_AFTER_SECONDS}) and ORDER_CANCEL_AFTER_SECONDS (${s.ORDER_CANCEL_AFTER_SECONDS}) contradict each other: an idle order would be cancelled before its event is ever published again`,
    );
  }
}

/** The database a Postgres URL names (its path). */
const databaseOf = (postgresUrl: string) => decodeURIComponent(new URL(postgresUrl).pathname.slice(1));

/**
 * In Azure (App Service sets WEBSITE_SITE_NAME) tokens must be checked against a real tenant's keys
 * fetched over TLS: a plain-HTTP issuer or key set could be answered by anyone on the path, and the
 * dev issuer's tenant accepts tokens anyone can mint from this repository.
 */
function refuseDevelopmentValues(s: Settings): void {
  for (const name of ['ENTRA_ISSUER', 'ENTRA_JWKS_URI', 'AZURE_RESOURCE_MANAGER_ENDPOINT'] as const) {
    const value = s[name];
    if (value !== undefined && new URL(value).protocol !== 'https:') {
      throw new ConfigError(`Setting ${name} must be an https:// URL in Azure (WEBSITE_SITE_NAME is set), not ${JSON.stringify(value)}`);
    }
  }
  if (!s.ACS_EMAIL_ENDPOINT) {
    throw new ConfigError('Setting ACS_EMAIL_ENDPOINT is missing: in Azure (WEBSITE_SITE_NAME is set) customer emails go through Azure Communication Services, not an SMTP catcher');
  }
  if (s.ENTRA_TENANT_ID.toLowerCase() === DEV_TENANT_ID) {
    throw new ConfigError(`Setting ENTRA_TENANT_ID is the local development issuer's tenant; in Azure (WEBSITE_SITE_NAME is set) use your Entra tenant id`);
  }
}

let loaded: Settings | undefined;

/** The settings of this process, parsed and validated on first use and then kept. */
export function settings(): Settings {
  loaded ??= parseSettings(process.env);
  return loaded;
}

/** The issuer a token must carry, per the ENTRA_* settings. */
export function expectedIssuer(s: Pick<Settings, 'ENTRA_ISSUER' | 'ENTRA_TENANT_ID'>): string {
  return s.ENTRA_ISSUER ?? `https://login.microsoftonline.com/${s.ENTRA_TENANT_ID}/v2.0`;
}

/** The settings that switch telemetry export on; each is undefined when unset or malformed. */
export interface TelemetrySettings {
  /** APPLICATIONINSIGHTS_CONNECTION_STRING: export to Azure Monitor. */
  applicationInsightsConnectionString: string | undefined;
  /** OTEL_EXPORTER_OTLP_ENDPOINT: OTLP/HTTP base URL (`/v1/traces`, `/v1/metrics`, `/v1/logs` are appended). */
  otlpEndpoint: string | undefined;
  /** OTEL_METRIC_EXPORT_INTERVAL (ms, the OpenTelemetry variable): how often metrics are exported. */
  metricExportIntervalMs: number | undefined;
  /**
   * DEPENDENCY_AUTH=managed-identity: Azure Monitor takes the managed identity's Entra token (the
   * Application Insights resource accepts no other: disableLocalAuth), with AZURE_CLIENT_ID's identity.
   */
  azureMonitorIdentity: { clientId: string | undefined } | undefined;
}

/**
 * Reads only the telemetry settings, for the start-up telemetry module that runs before the app's
 * code. It never throws: a malformed value turns that export off here and is reported, with the
 * other settings, by `settings()` when the app starts.
 */
export function telemetrySettings(env: NodeJS.ProcessEnv = process.env): TelemetrySettings {
  const value = <T>(schema: z.ZodType<T>, raw: string | undefined): T | undefined => {
    if (raw === undefined || raw === '') return undefined;
    const result = schema.safeParse(raw);
    return result.success ? result.data : undefined;
  };
  return {
    applicationInsightsConnectionString: value(settingsSchema.shape.APPLICATIONINSIGHTS_CONNECTION_STRING, env.APPLICATIONINSIGHTS_CONNECTION_STRING),
    otlpEndpoint: value(settingsSchema.shape.OTEL_EXPORTER_OTLP_ENDPOINT, env.OTEL_EXPORTER_OTLP_ENDPOINT),
    metricExportIntervalMs: value(z.coerce.number().int().min(100), env.OTEL_METRIC_EXPORT_INTERVAL),
    azureMonitorIdentity:
      value(settingsSchema.shape.DEPENDENCY_AUTH, env.DEPENDENCY_AUTH) === 'managed-identity'
        ? { clientId: value(settingsSchema.shape.AZURE_CLIENT_ID, env.AZURE_CLIENT_ID) }
        : undefined,
  };
}
