import { describe, expect, it } from 'vitest';
import { ConfigError, parseSettings } from '../../src/config.js';
import { DEV_TENANT_ID, devIssuerSettings } from '../../src/dev-issuer/constants.js';

const tenant = '3f6c2d1a-8b7e-4c5d-9e0f-1a2b3c4d5e6f';
const base = {
  POSTGRES_URL: 'postgres://u:p@db.example.com:5432/shop',
  REDIS_URL: 'rediss://cache.example.com:6380',
  RABBITMQ_URL: 'amqps://u:p@broker.example.com:5671',
  ENTRA_TENANT_ID: tenant,
  ENTRA_CLIENT_ID: '9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d',
};
const inAzure = { WEBSITE_SITE_NAME: 'shop-func' };

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

  it.each(['ENTRA_ISSUER', 'ENTRA_JWKS_URI'])('when %s is http://, then start-up fails naming it', (name) => {
    const message = errorOf({ ...base, ...inAzure, [name]: 'http://issuer.example.com/v2.0' }).message;
    expect(message).toMatch(new RegExp(`^Setting ${name} must be an https:// URL in Azure`));
    expect(message).not.toContain('\n');
  });

  it("when the tenant is the dev issuer's, then start-up fails naming ENTRA_TENANT_ID", () => {
    expect(errorOf({ ...base, ...inAzure, ENTRA_TENANT_ID: DEV_TENANT_ID.toUpperCase() }).message).toMatch(/^Setting ENTRA_TENANT_ID is the local development issuer's tenant/);
  });

  it('when not in Azure, then the dev issuer settings (http JWKS on loopback, dev tenant) are accepted', () => {
    expect(parseSettings({ ...base, ...devIssuerSettings() }).ENTRA_TENANT_ID).toBe(DEV_TENANT_ID);
  });
});
