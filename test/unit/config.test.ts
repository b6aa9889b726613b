import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { transientRetryBudgetMs } from '../../src/app/consumeEvent.js';
import { ConfigError, parseSettings, settingNames } from '../../src/config.js';
import { DEV_TENANT_ID, devIssuerSettings } from '../../src/dev-issuer/constants.js';
import { projectRoot } from '../support/bicep.js';

const tenant = '3f6c2d1a-8b7e-4c5d-9e0f-1a2b3c4d5e6f';
const base = {
  POSTGRES_URL: 'postgres://u:p@db.example.com:5432/shop',
  REDIS_URL: 'rediss://cache.example.com:6380',
  RABBITMQ_URL: 'amqps://u:p@broker.example.com:5671',
  ENTRA_TENANT_ID: tenant,
  ENTRA_CLIENT_ID: '9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d',
};
const inAzure = { WEBSITE_SITE_NAME: 'shop-func', ACS_EMAIL_ENDPOINT: 'https://acs-shop.europe.communication.azure.com' };

const errorOf = (env: NodeJS.ProcessEnv): ConfigError => {
  try {
    parseSettings(env);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return error as ConfigError;
  }
  throw new Error('the settings were accepted');
};

describe('settings in Azure', () => {
  it('when the Entra settings are a real tenant over https, then they are accepted', () => {
    const env = { ...base, ...inAzure, ENTRA_ISSUER: `https://login.microsoftonline.com/${tenant}/v2.0`, ENTRA_JWKS_URI: `https://login.microsoftonline.com/${tenant}/discovery/v2.0/keys` };
    expect(parseSettings(env).ENTRA_TENANT_ID).toBe(tenant);
    expect(parseSettings({ ...base, ...inAzure }).ENTRA_ISSUER).toBeUndefined();
  });

  it.each(['ENTRA_ISSUER', 'ENTRA_JWKS_URI', 'AZURE_RESOURCE_MANAGER_ENDPOINT'])('when %s is http://, then start-up fails naming it', (name) => {
    const message = errorOf({ ...base, ...inAzure, [name]: 'http://issuer.example.com/v2.0' }).message;
    expect(message).toMatch(new RegExp(`^Setting ${name} must be an https:// URL in Azure`));
    expect(message).not.toContain('\n');
  });

  it("when the tenant is the dev issuer's, then start-up fails naming ENTRA_TENANT_ID", () => {
    expect(errorOf({ ...base, ...inAzure, ENTRA_TENANT_ID: DEV_TENANT_ID.toUpperCase() }).message).toMatch(/^Setting ENTRA_TENANT_ID is the local development issuer's tenant/);
  });

  it('when no Communication Services endpoint is set in Azure, then start-up fails naming ACS_EMAIL_ENDPOINT; locally the SMTP catcher is the default', () => {
    expect(errorOf({ ...base, ...inAzure, ACS_EMAIL_ENDPOINT: '' }).message).toMatch(/^Setting ACS_EMAIL_ENDPOINT is missing/);
    expect(parseSettings(base)).toMatchObject({ SMTP_URL: 'smtp://127.0.0.1:1025', ACS_EMAIL_ENDPOINT: undefined });
  });

  it('when not in Azure, then the dev issuer settings (http JWKS on loopback, dev tenant) are accepted', () => {
    expect(parseSettings({ ...base, ...devIssuerSettings() }).ENTRA_TENANT_ID).toBe(DEV_TENANT_ID);
  });
});

describe('settings that contradict each other', () => {
  it('when the defaults are used, then the provider deadline ends 4 s before the payment lease expires', () => {
    const s = parseSettings(base);
    expect(s.PAYMENT_PROVIDER_TIMEOUT_MS).toBe(8000);
    expect(s.PAYMENT_LEASE_SECONDS).toBe(12);
  });

  it.each([
    [{ PAYMENT_PROVIDER_TIMEOUT_MS: '10000', PAYMENT_LEASE_SECONDS: '10' }, /^Settings PAYMENT_PROVIDER_TIMEOUT_MS \(10000\) and PAYMENT_LEASE_SECONDS \(10\) contradict each other: the lease must outlast the provider deadline by at least 2 s/],
    [{ PAYMENT_PROVIDER_TIMEOUT_MS: '8001', PAYMENT_LEASE_SECONDS: '10' }, /^Settings PAYMENT_PROVIDER_TIMEOUT_MS \(8001\) and PAYMENT_LEASE_SECONDS \(10\)/],
    [{ PAYMENT_LATENCY_MS: '8000' }, /^Settings PAYMENT_LATENCY_MS \(8000\) and PAYMENT_PROVIDER_TIMEOUT_MS \(8000\) contradict each other/],
    [{ ORDER_REDRIVE_AFTER_SECONDS: '600', ORDER_CANCEL_AFTER_SECONDS: '600' }, /^Settings ORDER_REDRIVE_AFTER_SECONDS \(600\) and ORDER_CANCEL_AFTER_SECONDS \(600\) contradict each other/],
    [{ POSTGRES_DIRECT_URL: 'postgres://u:p@db.example.com:5432/other' }, /^Settings POSTGRES_DIRECT_URL \(database other\) and POSTGRES_URL \(database shop\) contradict each other/],
  ])('when %o, then start-up fails with one line naming both settings', (values, message) => {
    const error = errorOf({ ...base, ...values });
    expect(error.message).toMatch(message);
    expect(error.message).not.toContain('\n');
  });

  it('when POSTGRES_DIRECT_URL reaches the same database past PgBouncer, then the settings are accepted', () => {
    expect(parseSettings({ ...base, POSTGRES_URL: 'postgres://u:p@db.example.com:6432/shop', POSTGRES_DIRECT_URL: 'postgres://u:p@db.example.com:5432/shop' }).POSTGRES_DIRECT_URL).toContain(':5432/shop');
  });

  it('when the provider deadline is exactly 2 s under the lease, then the settings are accepted', () => {
    expect(parseSettings({ ...base, PAYMENT_PROVIDER_TIMEOUT_MS: '8000', PAYMENT_LEASE_SECONDS: '10' }).PAYMENT_LEASE_SECONDS).toBe(10);
  });

  it("when host.json is read, then its functionTimeout outlasts the largest lease the settings accept plus a delivery's in-invocation wait for it", () => {
    // A delivery that finds a payment leased waits for the lease inside its invocation (up to the
    // transient-retry budget); the host must not fail that invocation first.
    const hostJson = JSON.parse(readFileSync(join(projectRoot, 'host.json'), 'utf8')) as { functionTimeout: string };
    const [h, m, sec] = hostJson.functionTimeout.split(':').map(Number) as [number, number, number];
    const functionTimeoutMs = ((h * 60 + m) * 60 + sec) * 1000;
    const largest = parseSettings({ ...base, PAYMENT_PROVIDER_TIMEOUT_MS: '48000', PAYMENT_LEASE_SECONDS: '50' });
    expect(largest.PAYMENT_LEASE_SECONDS * 1000).toBeLessThan(transientRetryBudgetMs);
    expect(functionTimeoutMs).toBeGreaterThan(transientRetryBudgetMs + largest.PAYMENT_LEASE_SECONDS * 1000);
    expect(errorOf({ ...base, PAYMENT_LEASE_SECONDS: '51' }).message).toMatch(/^Setting PAYMENT_LEASE_SECONDS is invalid/);
    expect(errorOf({ ...base, PAYMENT_PROVIDER_TIMEOUT_MS: '48001' }).message).toMatch(/^Setting PAYMENT_PROVIDER_TIMEOUT_MS is invalid/);
  });
});

describe('the OTLP protocol the Functions host exports with', () => {
  it("when it is gRPC, then start-up fails naming OTEL_EXPORTER_OTLP_PROTOCOL: the endpoint is the app's, OTLP/HTTP", () => {
    expect(errorOf({ ...base, OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:4318', OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc' }).message).toMatch(/^Setting OTEL_EXPORTER_OTLP_PROTOCOL is invalid/);
  });

  it('when it is http/protobuf or unset, then the settings are accepted', () => {
    expect(parseSettings({ ...base, OTEL_EXPORTER_OTLP_PROTOCOL: 'http/protobuf' }).OTEL_EXPORTER_OTLP_PROTOCOL).toBe('http/protobuf');
    expect(parseSettings(base).OTEL_EXPORTER_OTLP_PROTOCOL).toBeUndefined();
  });
});

describe('local.settings.sample.json', () => {
  it('when it is read, then it names every setting src/config.ts reads and its values are accepted together', () => {
    const sample = JSON.parse(readFileSync(join(projectRoot, 'local.settings.sample.json'), 'utf8')) as { Values: Record<string, string> };
    expect(settingNames.filter((name) => !(name in sample.Values))).toEqual([]);
    expect(() => parseSettings(sample.Values)).not.toThrow();
  });
});

describe('the consumer watchdog settings', () => {
  const siteId = '/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg-shop/providers/Microsoft.Web/sites/func-shop';

  it('when no site is named (locally), then the watchdog is off and its defaults are 5 min without a consumer, at most one restart per 15 min, public-cloud Resource Manager', () => {
    const settings = parseSettings(base);
    expect(settings.CONSUMER_WATCHDOG_SITE_ID).toBeUndefined();
    expect([settings.CONSUMER_WATCHDOG_AFTER_SECONDS, settings.CONSUMER_WATCHDOG_RESTART_INTERVAL_SECONDS]).toEqual([300, 900]);
    expect(settings.AZURE_RESOURCE_MANAGER_ENDPOINT).toBe('https://management.azure.com');
  });

  it("when the site is the Function App's resource id, then it is accepted", () => {
    expect(parseSettings({ ...base, ...inAzure, CONSUMER_WATCHDOG_SITE_ID: siteId }).CONSUMER_WATCHDOG_SITE_ID).toBe(siteId);
  });

  it.each([
    ['CONSUMER_WATCHDOG_SITE_ID', 'func-shop'],
    ['CONSUMER_WATCHDOG_SITE_ID', siteId.replace('Microsoft.Web/sites', 'Microsoft.Web/serverfarms')],
    ['CONSUMER_WATCHDOG_AFTER_SECONDS', '10'],
    ['CONSUMER_WATCHDOG_RESTART_INTERVAL_SECONDS', '60'],
  ])('when %s is %s, then start-up fails naming it', (name, value) => {
    expect(errorOf({ ...base, [name]: value }).message).toMatch(new RegExp(`^Setting ${name} is invalid`));
  });
});
