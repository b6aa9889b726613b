import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { parseSettings, secretSettingNames, settingNames } from '../../src/config.js';
import {
  type ArmResource,
  type ArmTemplate,
  compileInfra,
  literal,
  module,
  moduleOutputReference,
  passedParameter,
  projectRoot,
  resourcesOfType,
  single,
  templates,
} from '../support/bicep.js';

const read = (path: string): string => readFileSync(join(projectRoot, path), 'utf8');

/** Settings the Functions host reads; every other setting the app gets must be one of src/config.ts. */
const hostSettingNames = [
  'FUNCTIONS_EXTENSION_VERSION',
  'FUNCTIONS_WORKER_RUNTIME',
  'FUNCTIONS_WORKER_PROCESS_COUNT',
  'AzureWebJobsStorage__accountName',
  'AzureWebJobsStorage__credential',
  'AzureWebJobsStorage__clientId',
  'WEBSITE_CONTENTAZUREFILECONNECTIONSTRING',
  'WEBSITE_CONTENTSHARE',
  'WEBSITE_SKIP_CONTENTSHARE_VALIDATION',
  'SCM_DO_BUILD_DURING_DEPLOYMENT',
  'APPLICATIONINSIGHTS_AUTHENTICATION_STRING',
];
/**
 * Host settings whose values are secrets and so must come from Key Vault too. None: the content share's
 * connection string is the one secret the host reads, and it must not depend on the vault (first deploy).
 */
const hostSecretNames: string[] = [];

const keyVaultReference = /^\[format\('@Microsoft\.KeyVault\(SecretUri=\{0\}\)', parameters\('(\w+)'\)\)\]$/;
const keyVaultSecretsUserRoleId = '4633458b-17de-408a-b874-0445c86b69e6';

let main: ArmTemplate;
let api: { call: ArmResource; template: ArmTemplate };
let site: ArmResource;

beforeAll(() => {
  main = compileInfra();
  api = module(main, 'api');
  site = single(api.template, 'Microsoft.Web/sites');
}, 600_000);

const variable = (template: ArmTemplate, name: string): Record<string, string> => template.variables?.[name] as Record<string, string>;
const appSettings = (): Record<string, string> => ({
  ...variable(api.template, 'hostSettings'),
  ...variable(api.template, 'applicationSettings'),
});

/** Which Key Vault secret a main-level expression names: it must read `secretUri` of a vaults/secrets resource of a module. */
function secretBehind(expression: unknown): string {
  const source = moduleOutputReference(expression);
  expect(source, `${String(expression)} reads no module output`).toBeDefined();
  const output = module(main, source!.module).template.outputs?.[source!.output]?.value;
  const secret = /^\[reference\(resourceId\('Microsoft\.KeyVault\/vaults\/secrets', parameters\('keyVaultName'\), '([\w-]+)'\), '[^']+'\)\.secretUri\]$/.exec(String(output));
  expect(secret, `${source!.module}.${source!.output} is no Key Vault secret URI: ${String(output)}`).not.toBeNull();
  return secret![1]!;
}

function secretValue(moduleName: string, secretName: string): string {
  const secrets = resourcesOfType(module(main, moduleName).template, 'Microsoft.KeyVault/vaults/secrets');
  const secret = secrets.find((s) => String(s.name).endsWith(`'${secretName}')]`));
  expect(secret, `${moduleName} writes no secret ${secretName}`).toBeDefined();
  return String(secret!.properties.value);
}

describe('infra: the real Bicep CLI', () => {
  it('when infra:build runs, then Bicep 0.49.2 compiles and lints every template with no error or warning', () => {
    // compileInfra throws with the CLI's diagnostics on any error or warning.
    expect(main.metadata?._generator?.name).toBe('bicep');
    expect(main.metadata?._generator?.version).toMatch(/^0\.49\.2\./);
    expect(resourcesOfType(main, 'Microsoft.Resources/deployments').length).toBeGreaterThan(5);
  });

  it('when the Graph-extension templates are kept apart, then nothing in the compiled deployment needs Microsoft Graph', () => {
    expect(existsSync(join(projectRoot, 'infra', 'entra', 'app.bicep'))).toBe(true);
    const config = JSON.parse(read('infra/entra/bicepconfig.json')) as { extensions: Record<string, string> };
    expect(config.extensions.microsoftGraphV1).toMatch(/^br:mcr\.microsoft\.com\/bicep\/extensions\/microsoftgraph\/v1\.0:/);
    expect(JSON.stringify(main)).not.toContain('Microsoft.Graph/');
    expect(read('infra/bicepconfig.json')).not.toContain('microsoftgraph');
  });
});

describe('infra: customer notifications through Azure Communication Services Email', () => {
  it('when the app sends email, then it is through an ACS resource linked to an Azure-managed email domain, as its managed identity', () => {
    const { call, template } = module(main, 'communication');
    const communication = single(template, 'Microsoft.Communication/communicationServices');
    const domain = single(template, 'Microsoft.Communication/emailServices/domains');
    expect(domain.properties).toMatchObject({ domainManagement: 'AzureManaged', userEngagementTracking: 'Disabled' });
    expect(JSON.stringify(communication.properties.linkedDomains)).toContain('Microsoft.Communication/emailServices/domains');

    // The identity may send through this one resource, with no key or connection string anywhere.
    expect(passedParameter(call, 'appPrincipalId')).toMatch(/'identity'\), '[^']+'\)\.outputs\.principalId\.value\]$/);
    const grant = single(template, 'Microsoft.Authorization/roleAssignments');
    expect(JSON.stringify([grant.properties.roleDefinitionId, template.variables])).toContain('09976791-48a7-449e-bb21-39d1a415f350'); // Communication and Email Service Owner
    expect(grant.properties.principalId).toBe("[parameters('appPrincipalId')]");
    expect(String(grant.scope)).toContain('Microsoft.Communication/communicationServices');
    expect(JSON.stringify(templates(main))).not.toMatch(/listKeys\([^)]*Communication/);

    const settings = appSettings();
    expect(moduleOutputReference(passedParameter(api.call, 'acsEmailEndpoint'))).toEqual({ module: 'communication', output: 'endpoint' });
    expect(moduleOutputReference(passedParameter(api.call, 'emailSender'))).toEqual({ module: 'communication', output: 'senderAddress' });
    expect(settings.ACS_EMAIL_ENDPOINT).toBe("[parameters('acsEmailEndpoint')]");
    expect(settings.EMAIL_SENDER).toBe("[parameters('emailSender')]");
    expect(settings.AZURE_CLIENT_ID).toBe("[parameters('identityClientId')]");
    expect(template.outputs?.endpoint?.value).toMatch(/^\[format\('https:\/\/\{0\}'/);
  });
});

describe('infra: function app settings', () => {
  it('when the app settings are compiled, then the application settings are exactly those src/config.ts reads', () => {
    expect(Object.keys(variable(api.template, 'applicationSettings')).sort()).toEqual([...settingNames].sort());
    expect(Object.keys(variable(api.template, 'hostSettings')).sort()).toEqual([...hostSettingNames].sort());
    // The site gets both sets, and nothing else.
    expect(site.properties.siteConfig.appSettings).toBe(
      "[map(items(union(variables('hostSettings'), variables('applicationSettings'))), lambda('setting', createObject('name', lambdaVariables('setting').key, 'value', lambdaVariables('setting').value)))]",
    );
  });

  it('when a setting is a secret, then it is a Key Vault reference to the secret its owning module writes', () => {
    const settings = appSettings();
    const expected: Record<string, string> = {
      RABBITMQ_URL: 'rabbitmq-url',
      APPLICATIONINSIGHTS_CONNECTION_STRING: 'applicationinsights-connection-string',
    };
    expect(Object.keys(expected).sort()).toEqual([...secretSettingNames, ...hostSecretNames].sort());
    for (const [name, secret] of Object.entries(expected)) {
      const parameter = keyVaultReference.exec(settings[name] ?? '');
      expect(parameter, `${name} must be @Microsoft.KeyVault(SecretUri=...): ${settings[name]}`).not.toBeNull();
      expect(secretBehind(passedParameter(api.call, parameter![1]!)), name).toBe(secret);
    }
  });

  it("when main.bicep's defaults for the payment and recovery bounds are deployed, then src/config.ts accepts them together, and each parameter's range is its setting's", () => {
    const bounds = {
      PAYMENT_LATENCY_MS: 'paymentLatencyMs',
      PAYMENT_PROVIDER_TIMEOUT_MS: 'paymentProviderTimeoutMs',
      PAYMENT_LEASE_SECONDS: 'paymentLeaseSeconds',
      ORDER_REDRIVE_AFTER_SECONDS: 'orderRedriveAfterSeconds',
      ORDER_CANCEL_AFTER_SECONDS: 'orderCancelAfterSeconds',
    } as const;
    const parameter = (name: string) => main.parameters?.[name] as { defaultValue: number; minValue: number; maxValue: number };
    const deployed = Object.fromEntries(Object.entries(bounds).map(([setting, name]) => [setting, String(parameter(name).defaultValue)]));
    const required = { POSTGRES_URL: 'postgres://u:p@db:5432/shop', REDIS_URL: 'rediss://cache:6380', RABBITMQ_URL: 'amqps://u:p@broker:5671', ENTRA_TENANT_ID: '3f6c2d1a-8b7e-4c5d-9e0f-1a2b3c4d5e6f', ENTRA_CLIENT_ID: '9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d' };
    expect(() => parseSettings({ ...required, ...deployed })).not.toThrow();
    for (const [setting, name] of Object.entries(bounds)) {
      const { minValue, maxValue } = parameter(name);
      expect(() => parseSettings({ ...required, [setting]: String(minValue - 1) }), `${name} min`).toThrow(new RegExp(`^Setting ${setting} is invalid`));
      expect(() => parseSettings({ ...required, [setting]: String(maxValue + 1) }), `${name} max`).toThrow(new RegExp(`^Setting ${setting} is invalid`));
    }
  });

  it('when a setting is not a secret, then it is no Key Vault reference', () => {
    const secrets = new Set<string>([...secretSettingNames, ...hostSecretNames]);
    const references = Object.entries(appSettings()).filter(([, value]) => value.includes('@Microsoft.KeyVault')).map(([name]) => name);
    expect(references.filter((name) => !secrets.has(name))).toEqual([]);
  });

  it('when a trigger queue loses its consumer, then the consumer watchdog may restart this site and nothing else: its own id, a role holding only the restart action, assigned on the site to the identity', () => {
    const settings = appSettings();
    expect(settings.CONSUMER_WATCHDOG_SITE_ID).toBe("[resourceId('Microsoft.Web/sites', parameters('name'))]");
    expect(site.name).toBe("[parameters('name')]");
    expect(settings.AZURE_RESOURCE_MANAGER_ENDPOINT).toBe('[environment().resourceManager]');
    expect(settings.CONSUMER_WATCHDOG_AFTER_SECONDS).toBe("[string(parameters('consumerWatchdogAfterSeconds'))]");
    expect(settings.CONSUMER_WATCHDOG_RESTART_INTERVAL_SECONDS).toBe("[string(parameters('consumerWatchdogRestartIntervalSeconds'))]");
    // The template's defaults are the app's, and pass its validation.
    const defaults = { after: api.template.parameters?.consumerWatchdogAfterSeconds?.defaultValue, interval: api.template.parameters?.consumerWatchdogRestartIntervalSeconds?.defaultValue };
    expect(defaults).toEqual({ after: 300, interval: 900 });

    const role = single(api.template, 'Microsoft.Authorization/roleDefinitions');
    expect(role.properties.permissions).toEqual([{ actions: ['Microsoft.Web/sites/restart/action'], notActions: [] }]);
    expect(role.properties.assignableScopes).toEqual(['[resourceGroup().id]']);
    const assignment = single(api.template, 'Microsoft.Authorization/roleAssignments');
    expect(assignment.scope).toBe("[resourceId('Microsoft.Web/sites', parameters('name'))]");
    expect(assignment.properties.roleDefinitionId).toBe("[resourceId('Microsoft.Authorization/roleDefinitions', guid(resourceGroup().id, parameters('name'), 'restart'))]");
    expect(assignment.properties.principalId).toBe("[parameters('identityPrincipalId')]");
    expect(passedParameter(api.call, 'identityPrincipalId')).toMatch(/'identity'\), '[^']+'\)\.outputs\.principalId\.value\]$/);
  });

  it('when host storage is configured, then it goes through the user-assigned identity, with no connection string', () => {
    const settings = appSettings();
    expect(settings.AzureWebJobsStorage).toBeUndefined();
    expect(settings.AzureWebJobsStorage__credential).toBe('managedidentity');
    expect(settings.AzureWebJobsStorage__clientId).toBe("[parameters('identityClientId')]");
    expect(passedParameter(api.call, 'identityClientId')).toMatch(/'identity'\), '[^']+'\)\.outputs\.clientId\.value\]$/);
  });

  it('when the app first starts, then its identity was granted Key Vault and storage roles beforehand and resolves the references', () => {
    expect(site.identity.type).toBe('UserAssigned');
    expect(Object.keys(site.identity.userAssignedIdentities)).toEqual(["[format('{0}', parameters('identityId'))]"]);
    expect(site.properties.keyVaultReferenceIdentity).toBe("[parameters('identityId')]");

    /** The role definition ids the module assigns to the app identity, its variables resolved. */
    const rolesGranted = (moduleName: string): string => {
      const { call, template } = module(main, moduleName);
      expect(passedParameter(call, 'appPrincipalId')).toMatch(/'identity'\), '[^']+'\)\.outputs\.principalId\.value\]$/);
      const assignments = resourcesOfType(template, 'Microsoft.Authorization/roleAssignments');
      expect(assignments.every((a) => a.properties.principalId === "[parameters('appPrincipalId')]")).toBe(true);
      return JSON.stringify([assignments.map((a) => a.properties.roleDefinitionId), template.variables]);
    };
    expect(rolesGranted('keyvault')).toContain(keyVaultSecretsUserRoleId);
    expect(rolesGranted('storage')).toContain('b7e6dc6d-f1e8-4753-8033-0f276bb0955b'); // Storage Blob Data Owner

    // The app waits for storage and the vault: both role assignments precede the app.
    const dependencies = (call: ArmResource) => (call.dependsOn ?? []).map((d) => /'Microsoft\.Resources\/deployments', '([^']+)'\)\]$/.exec(d)?.[1]);
    const precedes = (name: string, seen = new Set<string>()): Set<string> => {
      for (const dependency of dependencies(module(main, name).call)) {
        if (dependency && !seen.has(dependency)) precedes(dependency, seen.add(dependency));
      }
      return seen;
    };
    expect([...precedes('api')]).toEqual(expect.arrayContaining(['identity', 'storage', 'keyvault']));
    expect(dependencies(module(main, 'storage').call)).toEqual(expect.arrayContaining(['identity']));
  });

  it('when the function app is declared, then it runs Node 22 on Linux, scales on queue depth and probes /api/health', () => {
    expect(site.kind).toBe('functionapp,linux');
    expect(site.properties.siteConfig.linuxFxVersion).toBe("[format('Node|{0}', parameters('nodeVersion'))]");
    expect(main.parameters?.nodeVersion).toMatchObject({ defaultValue: '22', allowedValues: ['22'] });
    expect(site.properties.siteConfig.functionsRuntimeScaleMonitoringEnabled).toBe(true);
    expect(site.properties.siteConfig.healthCheckPath).toBe('/api/health');
    expect(site.tags).toMatch(/'azd-service-name', 'api'/);

    const plan = single(api.template, 'Microsoft.Web/serverfarms');
    expect(plan.sku.tier).toBe('ElasticPremium');
    expect(plan.properties.maximumElasticWorkerCount).toBe("[parameters('maximumElasticWorkerCount')]");
    expect(passedParameter(api.call, 'maximumElasticWorkerCount')).toBe("[parameters('maximumElasticWorkerCount')]");
    expect(main.parameters?.maximumElasticWorkerCount?.maxValue).toBeGreaterThan(1);
    expect(main.parameters?.appServicePlanSku?.allowedValues).toEqual(['EP1', 'EP2', 'EP3']);
  });

  it('when package.json declares its engines, then Node 22 is among them', () => {
    const engines = (JSON.parse(read('package.json')) as { engines: { node: string } }).engines.node;
    expect(engines).toMatch(/(^|\D)22(\D|$)/);
  });
});

describe('infra: Postgres connection budget', () => {
  it('when every instance runs at its largest pool, then PgBouncer and the server stay under their limits', () => {
    const postgres = module(main, 'postgres');
    const serverParameters = new Map(
      (postgres.template.variables?.serverParameters as { name: string; value: string }[]).map((p) => [p.name, p.value]),
    );
    expect(serverParameters.get('pgbouncer.enabled')).toBe('true');
    expect(serverParameters.get('max_connections')).toBe("[string(variables('maxConnections'))]");
    expect(serverParameters.get('pgbouncer.default_pool_size')).toBe("[string(parameters('pgbouncerPoolSize'))]");

    const poolMax = main.parameters!.pgPoolMax!.maxValue!;
    const instancesMax = main.parameters!.maximumElasticWorkerCount!.maxValue!;
    const processes = literal(main, passedParameter(api.call, 'workerProcessCount')) as number;
    const pgbouncerPool = literal(main, passedParameter(postgres.call, 'pgbouncerPoolSize')) as number;
    const maxConnections = postgres.template.variables?.maxConnections as number;
    const reserved = postgres.template.variables?.reservedConnections as number;
    for (const value of [poolMax, instancesMax, processes, pgbouncerPool, maxConnections, reserved]) expect(value).toBeTypeOf('number');

    // Every client a process opens: the pool through PgBouncer, and past it one LISTEN client
    // (productChanges.ts) and one migration client at start (migrate.ts). A new client in src/ fails here.
    const clients = readdirSync(join(projectRoot, 'src'), { recursive: true, encoding: 'utf8' })
      .filter((file) => file.endsWith('.ts'))
      .flatMap((file) => [...read(join('src', file)).matchAll(/new pg\.(Client|Pool)\(/g)].map((m) => `${file.split('\\').join('/')}: ${m[1]}`))
      .sort();
    expect(clients).toEqual(['adapters/postgres/migrate.ts: Client', 'adapters/postgres/pool.ts: Pool', 'adapters/postgres/productChanges.ts: Client']);
    const sessionPerProcess = clients.filter((c) => c.endsWith('Client')).length;

    const sessionConnections = sessionPerProcess * processes * instancesMax;
    expect(poolMax * processes * instancesMax).toBeLessThanOrEqual(pgbouncerPool);
    expect(pgbouncerPool + sessionConnections + reserved).toBeLessThanOrEqual(maxConnections);
    console.info(`[budget] pool ${poolMax * processes * instancesMax} <= PgBouncer ${pgbouncerPool}; server ${pgbouncerPool} + ${sessionConnections} session + ${reserved} reserved = ${pgbouncerPool + sessionConnections + reserved} <= ${maxConnections}`);
    // The app's pool size is the same parameter, bounded by the same maximum.
    expect(appSettings().PG_POOL_MAX).toBe("[string(parameters('pgPoolMax'))]");
    expect(passedParameter(api.call, 'pgPoolMax')).toBe("[parameters('pgPoolMax')]");
    expect(appSettings().FUNCTIONS_WORKER_PROCESS_COUNT).toBe("[string(parameters('workerProcessCount'))]");
  });

  it('when the app connects to Postgres, then it goes through PgBouncer on 6432 with TLS required, and its session connection to 5432', () => {
    const outputs = module(main, 'postgres').template.outputs!;
    expect(outputs.url!.value).toMatch(/:6432\/\{\d\}\?sslmode=require'/);
    expect(outputs.directUrl!.value).toMatch(/:5432\/\{\d\}\?sslmode=require'/);
    expect(passedParameter(api.call, 'postgresUrl')).toMatch(/'postgres'\), '[^']+'\)\.outputs\.url\.value\]$/);
    expect(passedParameter(api.call, 'postgresDirectUrl')).toMatch(/'postgres'\), '[^']+'\)\.outputs\.directUrl\.value\]$/);
    const serverParameters = module(main, 'postgres').template.variables?.serverParameters as { name: string; value: string }[];
    expect(serverParameters).toContainEqual({ name: 'require_secure_transport', value: 'on' });
  });
});


describe('infra: PgBouncer locally as in Azure', () => {
  it("when the local stack's PgBouncer is configured, then its pool mode, ignored startup parameters and query wait timeout are the template's", () => {
    const serverParameters = new Map(
      (module(main, 'postgres').template.variables?.serverParameters as { name: string; value: string }[]).map((p) => [p.name, p.value]),
    );
    const local = new Map(
      [...read('scripts/pgbouncer.sh').matchAll(/^(pool_mode|ignore_startup_parameters|max_prepared_statements|query_wait_timeout) = ?(.*)$/gm)].map((m) => [m[1]!, m[2]!]),
    );
    expect(serverParameters.get('pgbouncer.pool_mode')).toBe('TRANSACTION');
    expect(local.get('pool_mode')?.toUpperCase()).toBe(serverParameters.get('pgbouncer.pool_mode'));
    // Azure's defaults (empty, 0) hold unless the template overrides them; so must the local ones.
    expect(local.get('ignore_startup_parameters')).toBe(serverParameters.get('pgbouncer.ignore_startup_parameters') ?? '');
    expect(serverParameters.has('pgbouncer.max_prepared_statements')).toBe(false);
    expect(local.has('max_prepared_statements')).toBe(false);
    // A query with no server connection to run on (Postgres restarting) fails fast, within a client's patience.
    expect(serverParameters.get('pgbouncer.query_wait_timeout')).toBe('5');
    expect(local.get('query_wait_timeout')).toBe(serverParameters.get('pgbouncer.query_wait_timeout'));
  });
});

describe('infra: private network', () => {
  const privateServices: { module: string; type: string; groupIds: string[] }[] = [
    { module: 'postgres', type: 'Microsoft.DBforPostgreSQL/flexibleServers', groupIds: ['postgresqlServer'] },
    { module: 'redis', type: 'Microsoft.Cache/redisEnterprise', groupIds: ['redisEnterprise'] },
    { module: 'keyvault', type: 'Microsoft.KeyVault/vaults', groupIds: ['vault'] },
    { module: 'storage', type: 'Microsoft.Storage/storageAccounts', groupIds: ['blob', 'queue', 'table', 'file'] },
  ];

  it('when a data service is declared, then its public network access is off and private endpoints serve it', () => {
    for (const service of privateServices) {
      const { template } = module(main, service.module);
      const resource = single(template, service.type);
      const publicAccess = resource.properties.publicNetworkAccess ?? resource.properties.network?.publicNetworkAccess;
      expect(publicAccess, service.module).toBe('Disabled');
      const endpoints = resourcesOfType(template, 'Microsoft.Resources/deployments').filter((d) =>
        resourcesOfType(d.properties.template as ArmTemplate, 'Microsoft.Network/privateEndpoints').length === 1,
      );
      expect(endpoints.length, service.module).toBeGreaterThan(0);
      const groupIds = endpoints.map((e) => literal(template, passedParameter(e, 'groupId')));
      const looped = endpoints.some((e) => e.copy);
      expect(looped ? template.variables?.endpointServices : groupIds, service.module).toEqual(service.groupIds);
    }
  });

  it('when the app calls out, then all its traffic, the content share included, goes through the VNet', () => {
    expect(site.properties.virtualNetworkSubnetId).toBe("[parameters('appSubnetId')]");
    expect(site.properties.outboundVnetRouting).toEqual({ allTraffic: true, contentShareTraffic: true });
    expect(passedParameter(api.call, 'appSubnetId')).toMatch(/'network'\), '[^']+'\)\.outputs\.appSubnetId\.value\]$/);
  });

  it('when any template is compiled, then it has no firewall allow-list and no public IP but the NAT gateway\'s', () => {
    const all = templates(main).flatMap(({ template }) => template.resources);
    expect(all.filter((r) => r.type.endsWith('/firewallRules'))).toEqual([]);
    const publicIps = all.filter((r) => r.type === 'Microsoft.Network/publicIPAddresses');
    expect(publicIps).toHaveLength(1);
    expect(publicIps[0]!.name).toMatch(/pip-nat-/);
  });
});

describe('infra: product images', () => {
  const blobDataContributorRoleId = 'ba92f5b4-2d11-453d-a57c-3bae3ef82a8b';

  it('when the images account is declared, then anyone may read a blob by its URL but not list them, and no key or SAS can write', () => {
    const { template } = module(main, 'images');
    const account = single(template, 'Microsoft.Storage/storageAccounts');
    expect(account.properties).toMatchObject({ allowBlobPublicAccess: true, allowSharedKeyAccess: false, supportsHttpsTrafficOnly: true, minimumTlsVersion: 'TLS1_2' });
    const container = single(template, 'Microsoft.Storage/storageAccounts/blobServices/containers');
    expect(container.properties.publicAccess).toBe('Blob');
  });

  it("when roles are granted on the images, then the app's identity is the only writer, on the container alone", () => {
    const { call, template } = module(main, 'images');
    const grants = resourcesOfType(template, 'Microsoft.Authorization/roleAssignments');
    expect(grants).toHaveLength(1);
    expect(String(grants[0]!.properties.roleDefinitionId)).toContain("variables('blobDataContributorRoleId')");
    expect(template.variables?.blobDataContributorRoleId).toBe(blobDataContributorRoleId);
    expect(grants[0]!.properties.principalId).toBe("[parameters('appPrincipalId')]");
    expect(String(grants[0]!.scope)).toContain('blobServices/containers');
    expect(passedParameter(call, 'appPrincipalId')).toMatch(/'identity'\), '[^']+'\)\.outputs\.principalId\.value\]$/);
  });

  it('when the app is configured, then it writes images to that account and container with its user-assigned identity', () => {
    const settings = appSettings();
    expect(settings.PRODUCT_IMAGES_STORAGE).toBe("[parameters('productImagesBlobEndpoint')]");
    expect(passedParameter(api.call, 'productImagesBlobEndpoint')).toMatch(/'images'\), '[^']+'\)\.outputs\.blobEndpoint\.value\]$/);
    expect(passedParameter(api.call, 'productImagesContainer')).toMatch(/'images'\), '[^']+'\)\.outputs\.containerName\.value\]$/);
    expect(settings.AZURE_CLIENT_ID).toBe("[parameters('identityClientId')]");
  });

  it('when CATALOG_PUBLIC_READ is set from the boolean parameter, then it is the lower-case true/false src/config.ts accepts', () => {
    expect(appSettings().CATALOG_PUBLIC_READ).toBe("[if(parameters('catalogPublicRead'), 'true', 'false')]");
    expect(main.parameters!.catalogPublicRead).toMatchObject({ type: 'bool', defaultValue: false });
  });
});

describe('infra: Redis', () => {
  it('when the cache is declared, then it is Azure Managed Redis, TLS only, persistent, and never evicts a cart', () => {
    const { template } = module(main, 'redis');
    single(template, 'Microsoft.Cache/redisEnterprise');
    const database = single(template, 'Microsoft.Cache/redisEnterprise/databases');
    expect(database.properties).toMatchObject({
      clientProtocol: 'Encrypted',
      evictionPolicy: 'NoEviction',
      clusteringPolicy: 'EnterpriseCluster',
      persistence: { aofEnabled: true },
    });
    expect(module(main, 'redis').template.outputs!.url!.value).toMatch(/^\[format\('rediss:\/\//);
  });
});

describe('infra: first deploy', () => {
  it('when the site is created, then its content share mounts without the vault: the connection string is the value, not a Key Vault reference', () => {
    expect(appSettings().WEBSITE_CONTENTAZUREFILECONNECTIONSTRING).toBe("[parameters('contentShareConnectionString')]");
    expect(api.template.parameters?.contentShareConnectionString?.type).toBe('securestring');
    const value = String(passedParameter(api.call, 'contentShareConnectionString'));
    expect(value).not.toContain('@Microsoft.KeyVault');
    expect(value).toMatch(/^\[format\('DefaultEndpointsProtocol=https;AccountName=\{0\};AccountKey=\{1\};EndpointSuffix=\{2\}'/);
    expect(value).toContain('listKeys(');
    expect(appSettings().WEBSITE_CONTENTSHARE).toBe("[parameters('contentShareName')]");
    // The share exists before the site, so the platform finds it rather than creating it.
    expect(resourcesOfType(module(main, 'storage').template, 'Microsoft.Storage/storageAccounts/fileServices/shares')).toHaveLength(1);
  });
});

describe('infra: passwordless', () => {
  const principal = /'identity'\), '[^']+'\)\.outputs\.principalId\.value\]$/;

  it('when the app signs in to Postgres, then it is the identity, made Entra administrator, with no password in its URLs', () => {
    const postgres = module(main, 'postgres');
    const server = single(postgres.template, 'Microsoft.DBforPostgreSQL/flexibleServers');
    expect(server.properties.authConfig).toMatchObject({ activeDirectoryAuth: 'Enabled' });
    const admin = single(postgres.template, 'Microsoft.DBforPostgreSQL/flexibleServers/administrators');
    expect(admin.properties).toMatchObject({ principalType: 'ServicePrincipal', principalName: "[parameters('appIdentityName')]" });
    expect(admin.name).toContain("parameters('appPrincipalId')");
    expect(passedParameter(postgres.call, 'appPrincipalId')).toMatch(principal);
    for (const output of ['url', 'directUrl']) {
      const value = String(postgres.template.outputs![output]!.value);
      expect(value).not.toMatch(/Password|listKeys/i);
      expect(value).toContain("uriComponent(parameters('appIdentityName'))");
    }
  });

  it('when the app signs in to Redis, then access keys are off and the identity has the data access policy', () => {
    const redis = module(main, 'redis');
    expect(single(redis.template, 'Microsoft.Cache/redisEnterprise/databases').properties.accessKeysAuthentication).toBe('Disabled');
    const assignment = single(redis.template, 'Microsoft.Cache/redisEnterprise/databases/accessPolicyAssignments');
    expect(assignment.properties).toEqual({ accessPolicyName: 'default', user: { objectId: "[parameters('appPrincipalId')]" } });
    expect(passedParameter(redis.call, 'appPrincipalId')).toMatch(principal);
    expect(String(redis.template.outputs!.url!.value)).toMatch(/^\[format\('rediss:\/\/\{0\}@/);
    expect(JSON.stringify(redis.template)).not.toContain('listKeys');
  });

  it('when telemetry is sent, then Application Insights takes Entra tokens only, from the identity, for the app and the host', () => {
    const monitoring = module(main, 'monitoring');
    expect(single(monitoring.template, 'Microsoft.Insights/components').properties.DisableLocalAuth).toBe(true);
    const grant = single(monitoring.template, 'Microsoft.Authorization/roleAssignments');
    expect(grant.properties.roleDefinitionId).toContain("variables('monitoringMetricsPublisherRoleId')");
    expect(monitoring.template.variables?.monitoringMetricsPublisherRoleId).toBe('3913510d-42f4-4e42-8a64-420c390055eb');
    expect(grant.properties.principalId).toBe("[parameters('appPrincipalId')]");
    expect(appSettings().APPLICATIONINSIGHTS_AUTHENTICATION_STRING).toBe("[format('ClientId={0};Authorization=AAD', parameters('identityClientId'))]");
  });

  it('when the app reads its settings, then Postgres, Redis and Azure Monitor go through the identity and no setting holds a database password', () => {
    const settings = appSettings();
    expect(settings.DEPENDENCY_AUTH).toBe('managed-identity');
    expect(settings.AZURE_CLIENT_ID).toBe("[parameters('identityClientId')]");
    expect(JSON.stringify(api.template)).not.toMatch(/postgresAdminPassword|administratorLoginPassword/);
    expect(JSON.stringify(passedParameter(api.call, 'postgresUrl'))).not.toMatch(/Password/i);
  });

  it('when someone deploys, then SCM and FTP refuse basic authentication', () => {
    const policies = resourcesOfType(api.template, 'Microsoft.Web/sites/basicPublishingCredentialsPolicies');
    expect(policies.map((p) => [String(p.name).match(/'(scm|ftp)'\)\]$/)?.[1], p.properties.allow]).sort()).toEqual([
      ['ftp', false],
      ['scm', false],
    ]);
  });
});

describe('infra: RabbitMQ broker', () => {
  const rabbitMq = () => module(main, 'rabbitmq');
  const brokerVm = () => module(rabbitMq().template, 'rabbitmq-vm');
  const cloudInit = (): string =>
    Object.values(brokerVm().template.variables ?? {}).find((v): v is string => typeof v === 'string' && v.startsWith('#cloud-config'))!;

  it('when no existing broker is given, then a VM is deployed; with RABBITMQ_EXISTING_URL, none and the URL is stored as is', () => {
    expect(brokerVm().call.condition).toBe("[variables('deployBroker')]");
    expect(rabbitMq().template.variables?.deployBroker).toBe("[empty(parameters('existingUrl'))]");
    expect(secretValue('rabbitmq', 'rabbitmq-url')).toMatch(
      /^\[if\(variables\('deployBroker'\), format\('amqps:\/\/\{0\}:\{1\}@\{2\}:5671', .*\), parameters\('existingUrl'\)\)\]$/,
    );
    expect(passedParameter(rabbitMq().call, 'existingUrl')).toBe("[parameters('rabbitMqExistingUrl')]");
  });

  it('when the broker VM is declared, then its data lives on a managed disk that outlives the VM, and it has no public address', () => {
    const vm = single(brokerVm().template, 'Microsoft.Compute/virtualMachines');
    const [dataDisk, ...others] = vm.properties.storageProfile.dataDisks as Record<string, unknown>[];
    expect(others).toEqual([]);
    expect(dataDisk).toMatchObject({ lun: 0, createOption: 'Empty', deleteOption: 'Detach', managedDisk: { storageAccountType: 'Premium_LRS' } });
    const nic = single(brokerVm().template, 'Microsoft.Network/networkInterfaces');
    expect(JSON.stringify(nic.properties)).not.toContain('publicIPAddress');
    expect(cloudInit()).toMatch(/mounts:\n\s+- \[LABEL=rabbitmq, \/var\/lib\/rabbitmq,/);
  });

  it('when RabbitMQ is configured, then it listens for AMQPS on 5671 only and only the app subnet may connect', () => {
    expect(cloudInit()).toMatch(/^\s+listeners\.tcp = none$/m);
    expect(cloudInit()).toMatch(/^\s+listeners\.ssl\.default = 5671$/m);
    const nsg = single(module(main, 'network').template, 'Microsoft.Network/networkSecurityGroups');
    const allows = (nsg.properties.securityRules as { properties: Record<string, unknown> }[])
      .map((r) => r.properties)
      .filter((r) => r.direction === 'Inbound' && r.access === 'Allow');
    expect(allows).toHaveLength(1);
    expect(allows[0]).toMatchObject({ destinationPortRange: '5671', protocol: 'Tcp', sourceAddressPrefix: "[cidrSubnet(parameters('addressPrefix'), 24, 0)]" });
    // The app subnet is that same first /24.
    const vnet = single(module(main, 'network').template, 'Microsoft.Network/virtualNetworks');
    expect(vnet.properties.subnets[0]).toMatchObject({ name: 'app', properties: { addressPrefix: "[cidrSubnet(parameters('addressPrefix'), 24, 0)]" } });
  });

  it('when cloud-init is read, then it is valid YAML whose scripts parse as shell and whose placeholders are all filled', () => {
    const config = parseYaml(cloudInit()) as { write_files: { path: string; content: string }[]; runcmd: string[][] };
    const scripts = config.write_files.filter((file) => file.content.startsWith('#!/bin/sh'));
    expect(scripts.map((file) => file.path).sort()).toEqual(['/usr/local/sbin/rabbitmq-bootstrap', '/usr/local/sbin/rabbitmq-metrics-export', '/usr/local/sbin/rabbitmq-tls-install']);
    for (const script of scripts) {
      expect(() => execFileSync('sh', ['-n'], { input: script.content, stdio: ['pipe', 'ignore', 'pipe'] }), script.path).not.toThrow();
    }
    expect(config.runcmd).toEqual([['/usr/local/sbin/rabbitmq-bootstrap']]);
    // Every {{placeholder}} of the file is replaced by the template (the replace() chain that builds customData).
    const vm = single(brokerVm().template, 'Microsoft.Compute/virtualMachines');
    const placeholders = [...new Set(cloudInit().match(/\{\{\w+\}\}/g))];
    expect(placeholders.length).toBeGreaterThan(0);
    for (const placeholder of placeholders) expect(String(vm.properties.osProfile.customData)).toContain(`'${placeholder}'`);
  });

  const cloudInitFile = (path: string): string =>
    (parseYaml(cloudInit()) as { write_files: { path: string; content: string }[] }).write_files.find((file) => file.path === path)!.content;

  it('when the broker starts, then rabbitmq_prometheus is already enabled and serves on the loopback only', () => {
    expect(cloudInitFile('/etc/rabbitmq/enabled_plugins').trim()).toBe('[rabbitmq_prometheus].');
    const conf = cloudInitFile('/etc/rabbitmq/rabbitmq.conf');
    expect(conf).toMatch(/^prometheus\.tcp\.ip = 127\.0\.0\.1$/m);
    expect(conf).toMatch(/^prometheus\.tcp\.port = 15692$/m);
    expect(cloudInitFile('/usr/local/sbin/rabbitmq-metrics-export')).toContain('http://127.0.0.1:15692/metrics');
    // The timer that runs the export is enabled once the broker is up.
    const bootstrap = cloudInitFile('/usr/local/sbin/rabbitmq-bootstrap');
    expect(bootstrap.indexOf('systemctl enable --now rabbitmq-metrics.timer')).toBeGreaterThan(bootstrap.indexOf('systemctl start rabbitmq-server'));
    expect(cloudInitFile('/etc/systemd/system/rabbitmq-metrics.timer')).toMatch(/^OnUnitActiveSec=1min$/m);
  });

  /** Runs the export script with a curl that prints `scrape` (or fails when undefined); returns what it appended. */
  function runExport(scrape: string | undefined): string {
    const dir = mkdtempSync(join(tmpdir(), 'rabbitmq-metrics-'));
    const bin = join(dir, 'bin');
    mkdirSync(bin);
    writeFileSync(join(bin, 'curl'), scrape === undefined ? '#!/bin/sh\nexit 7\n' : `#!/bin/sh\ncat <<'EOF'\n${scrape}EOF\n`, { mode: 0o755 });
    const out = join(dir, 'out');
    execFileSync('sh', ['-c', cloudInitFile('/usr/local/sbin/rabbitmq-metrics-export')], { env: { PATH: `${bin}:${process.env.PATH}`, RABBITMQ_METRICS_DIR: out } });
    return readdirSync(out).map((file) => readFileSync(join(out, file), 'utf8')).join('');
  }

  it('when the metrics are exported, then the chosen series go out one line each as "<time> <series> <value>", and a broker that does not answer writes nothing', () => {
    // The shape rabbitmq_prometheus serves on /metrics (aggregated, its default).
    const scrape = [
      '# TYPE rabbitmq_identity_info untyped',
      'rabbitmq_identity_info{rabbitmq_node="rabbit@rabbitmq",rabbitmq_cluster="rabbit@rabbitmq",rabbitmq_endpoint="aggregated"} 1',
      '# TYPE rabbitmq_queue_messages_ready gauge',
      'rabbitmq_queue_messages_ready 12',
      'rabbitmq_alarms_memory_used_watermark 0',
      'rabbitmq_alarms_free_disk_space_watermark 1',
      'rabbitmq_global_messages_dead_lettered_confirmed_total{queue_type="rabbit_quorum_queue",dead_letter_strategy="at_least_once"} 3',
      'erlang_vm_process_count 412',
      'rabbitmq_queue_messages_ready_bytes 900',
      '',
    ].join('\n');
    const lines = runExport(scrape).trimEnd().split('\n');
    expect(lines.map((line) => line.split(' ').slice(1).join(' '))).toEqual([
      'rabbitmq_identity_info{rabbitmq_node="rabbit@rabbitmq",rabbitmq_cluster="rabbit@rabbitmq",rabbitmq_endpoint="aggregated"} 1',
      'rabbitmq_queue_messages_ready 12',
      'rabbitmq_alarms_memory_used_watermark 0',
      'rabbitmq_alarms_free_disk_space_watermark 1',
      'rabbitmq_global_messages_dead_lettered_confirmed_total{queue_type="rabbit_quorum_queue",dead_letter_strategy="at_least_once"} 3',
    ]);
    for (const line of lines) expect(line).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ \S+ \S+$/);
    expect(runExport(undefined)).toBe('');
  });

  it('when the broker VM runs, then the Azure Monitor agent signs in with its identity and ships the export, syslog and guest counters to the workspace', () => {
    const template = brokerVm().template;
    const agent = resourcesOfType(template, 'Microsoft.Compute/virtualMachines/extensions').find((e) => e.properties.type === 'AzureMonitorLinuxAgent')!;
    expect(agent.properties).toMatchObject({ publisher: 'Microsoft.Azure.Monitor', settings: { authentication: { managedIdentity: { 'identifier-name': 'mi_res_id' } } } });
    expect(agent.properties.settings.authentication.managedIdentity['identifier-value']).toContain("'Microsoft.ManagedIdentity/userAssignedIdentities'");

    const rule = single(template, 'Microsoft.Insights/dataCollectionRules').properties;
    const exportScript = cloudInitFile('/usr/local/sbin/rabbitmq-metrics-export');
    const exportDir = /dir=\$\{RABBITMQ_METRICS_DIR:-([^}]+)\}/.exec(exportScript)![1]!;
    expect(exportScript).toContain('"$dir/metrics-$(date -u +%Y%m%d).log"');
    expect(rule.dataSources.logFiles[0].filePatterns).toEqual([`${exportDir}/metrics-*.log`]);
    expect(rule.dataSources.syslog[0].streams).toEqual(['Microsoft-Syslog']);
    expect(rule.dataSources.performanceCounters[0].streams).toEqual(['Microsoft-Perf']);
    expect(rule.destinations.logAnalytics[0].workspaceResourceId).toBe("[parameters('workspaceId')]");
    // The transform's columns are the table's.
    const table = single(template, 'Microsoft.OperationalInsights/workspaces/tables');
    const columns = (table.properties.schema.columns as { name: string }[]).map((c) => c.name);
    expect(columns).toEqual(['TimeGenerated', 'Series', 'Value']);
    const custom = (rule.dataFlows as { transformKql?: string; outputStream?: string }[]).find((flow) => flow.transformKql)!;
    expect(custom.transformKql).toContain(`project ${columns.join(', ')}`);
    // Both the rule and the endpoint are associated with the VM.
    const associations = resourcesOfType(template, 'Microsoft.Insights/dataCollectionRuleAssociations');
    expect(associations.map((a) => Object.keys(a.properties)[0]).sort()).toEqual(['dataCollectionEndpointId', 'dataCollectionRuleId']);
    for (const association of associations) expect(String(association.scope)).toContain("'Microsoft.Compute/virtualMachines'");
    expect(passedParameter(rabbitMq().call, 'workspaceId')).toMatch(/'monitoring'\), '[^']+'\)\.outputs\.workspaceId\.value\]$/);
  });

  it('when the broker is deployed, then what it needs is required: certificate, host name and admin key fail when empty', () => {
    const parameters = brokerVm().template.parameters!;
    for (const name of ['hostName', 'certificateSecretUri', 'certificateVaultId', 'adminSshPublicKey']) {
      expect(parameters[name]?.minLength, name).toBeGreaterThan(0);
      expect(parameters[name]?.defaultValue, name).toBeUndefined();
    }
  });
});

describe('infra: parameters and outputs', () => {
  const file = JSON.parse(read('infra/main.parameters.json')) as { parameters: Record<string, { value: unknown }> };

  it('when a required parameter is empty, then the deployment fails validation', () => {
    const parameters = main.parameters!;
    expect(parameters.entraClientId).toMatchObject({ minLength: 36, maxLength: 36 });
    expect(parameters.postgresAdminPassword?.minLength).toBeGreaterThanOrEqual(16);
    expect(parameters.rabbitMqPassword?.minLength).toBeGreaterThanOrEqual(16);
    const required = Object.entries(parameters).filter(([, p]) => p.defaultValue === undefined);
    for (const [name, p] of required) {
      expect(p.type === 'int' || (p.minLength ?? 0) > 0 || p.allowedValues !== undefined, `${name} accepts an empty value`).toBe(true);
    }
  });

  it('when main.bicep declares a parameter without a default, then the parameters file sets it', () => {
    const required = Object.entries(main.parameters!).filter(([, p]) => p.defaultValue === undefined).map(([name]) => name);
    expect(required.filter((name) => !(name in file.parameters))).toEqual([]);
  });

  it('when the parameters file names a parameter, then main.bicep declares it, secure ones from azd variables only', () => {
    expect(Object.keys(file.parameters).filter((name) => !(name in main.parameters!))).toEqual([]);
    for (const [name] of Object.entries(main.parameters!).filter(([, p]) => p.type === 'securestring')) {
      if (name in file.parameters) expect(file.parameters[name]!.value, name).toMatch(/^\$\{[A-Z][A-Z0-9_]*\}$/);
    }
  });

  it('when any template has outputs, then none carries a secret', () => {
    for (const { path, template } of templates(main)) {
      const secureParameters = Object.entries(template.parameters ?? {})
        .filter(([, p]) => p.type === 'securestring' || p.type === 'secureObject')
        .map(([name]) => `parameters('${name}')`);
      for (const [name, output] of Object.entries(template.outputs ?? {})) {
        const where = `${path.join('/') || 'main'}: ${name}`;
        expect(output.type, where).not.toMatch(/^secure/i);
        expect(String(output.value), where).not.toMatch(/\blist\w*\(/);
        for (const secure of secureParameters) expect(String(output.value), where).not.toContain(secure);
      }
    }
  });

  it('when a top-level resource is declared, then it carries the azd-env-name tags', () => {
    const untagged = templates(main).flatMap(({ path, template }) =>
      template.resources
        .filter((r) => !r.existing && r.type.split('/').length === 2)
        .filter((r) => !['Microsoft.Resources/deployments', 'Microsoft.Authorization/roleAssignments', 'Microsoft.Authorization/roleDefinitions', 'Microsoft.Insights/diagnosticSettings', 'Microsoft.Insights/dataCollectionRuleAssociations'].includes(r.type))
        .filter((r) => r.tags === undefined)
        .map((r) => `${path.join('/')}: ${r.type}`),
    );
    expect(untagged).toEqual([]);
    expect(main.variables?.tags).toEqual({ 'azd-env-name': "[parameters('environmentName')]" });
  });

  it('when main.bicep is deployed, then it outputs what azd and the docs use', () => {
    for (const name of ['API_BASE_URL', 'WEB_BASE_URL', 'AZURE_FUNCTION_APP_NAME', 'AZURE_RESOURCE_GROUP', 'APPLICATIONINSIGHTS_NAME', 'AZURE_KEY_VAULT_NAME', 'OUTBOUND_IP_ADDRESS']) {
      expect(main.outputs?.[name], name).toBeDefined();
    }
    expect(main.outputs?.API_BASE_URL?.value).toMatch(/^\[format\('https:\/\/\{0\}\/api'/);
  });
});

describe('infra: azd down --purge, then azd up', () => {
  it('when the vault is named, then the name is derived from the environment and purge protection stays off so a purge frees it', () => {
    const { call, template } = module(main, 'keyvault');
    expect(passedParameter(call, 'name')).toBe("[format('{0}{1}', variables('abbrs').keyVaultVaults, variables('resourceToken'))]");
    expect(main.variables?.resourceToken).toBe("[toLower(uniqueString(subscription().id, parameters('environmentName'), parameters('location')))]");
    const vault = single(template, 'Microsoft.KeyVault/vaults');
    expect(vault.properties.enablePurgeProtection ?? false).not.toBe(true);
    expect(vault.properties.enableRbacAuthorization).toBe(true);
    expect(vault.properties.softDeleteRetentionInDays).toBe(7);
  });
});

describe('infra: storefront and azd services', () => {
  const manifest = () =>
    parseYaml(read('azure.yaml')) as {
      services: Record<string, { project: string; host: string; language: string; dist?: string; remoteBuild?: boolean }>;
      workflows?: { up?: { steps: unknown[] } };
      requiredVersions?: { azd?: string };
    };

  it('when the storefront is declared, then it is a static web app for the azd service web, and the only origin the API admits', () => {
    const storefront = module(main, 'storefront');
    const staticSite = single(storefront.template, 'Microsoft.Web/staticSites');
    expect(staticSite.tags).toMatch(/'azd-service-name', 'web'/);
    expect(passedParameter(api.call, 'corsAllowedOrigins')).toEqual([
      expect.stringMatching(/'storefront'\), '[^']+'\)\.outputs\.url\.value\]$/),
    ]);
    expect(site.properties.siteConfig.cors.allowedOrigins).toBe("[parameters('corsAllowedOrigins')]");
    expect(manifest().services.web).toMatchObject({ project: '.', host: 'staticwebapp', dist: '.local/deploy/web' });
  });

  it('when azd packages the API, then it deploys the staged package built here, not the source (test/unit/package.test.ts walks it)', () => {
    expect(manifest().services.api).toMatchObject({ project: '.', host: 'function', dist: '.local/deploy/api' });
    expect(manifest().requiredVersions?.azd).toBe('>= 1.23.13');
    // Packaging after provisioning, so the storefront's config.json can name the provisioned API.
    expect(manifest().workflows?.up?.steps).toEqual([{ azd: 'provision' }, { azd: 'deploy --all' }]);
    expect(appSettings().SCM_DO_BUILD_DURING_DEPLOYMENT).toBe('false');
  });
});

describe('infra: operable', () => {
  /** The log alerts on Application Insights (the copy loop over `rules`). */
  const appAlerts = (template: ArmTemplate): ArmResource =>
    resourcesOfType(template, 'Microsoft.Insights/scheduledQueryRules').find((r) => r.copy?.count === "[length(variables('rules'))]")!;

  it('when the resources exist, then each that has platform logs or metrics sends them to the Log Analytics workspace', () => {
    const diagnostics = module(main, 'diagnostics');
    expect(passedParameter(diagnostics.call, 'workspaceId')).toMatch(/'monitoring'\), '[^']+'\)\.outputs\.workspaceId\.value\]$/);
    const scoped = resourcesOfType(diagnostics.template, 'Microsoft.Insights/diagnosticSettings').map((d) => String(d.scope));
    const settingsOn = (type: string) => resourcesOfType(diagnostics.template, 'Microsoft.Insights/diagnosticSettings').filter((d) => String(d.scope).includes(`'${type}'`));
    for (const type of [
      'Microsoft.Web/sites',
      'Microsoft.Web/serverfarms',
      'Microsoft.KeyVault/vaults',
      'Microsoft.DBforPostgreSQL/flexibleServers',
      'Microsoft.Cache/redisEnterprise',
      'Microsoft.Cache/redisEnterprise/databases',
      'Microsoft.Network/virtualNetworks',
      'Microsoft.Network/networkSecurityGroups',
      'Microsoft.Network/publicIPAddresses',
      'Microsoft.Communication/communicationServices',
      'Microsoft.Web/staticSites',
    ]) {
      expect(scoped.some((scope) => scope.includes(`'${type}'`)), type).toBe(true);
    }
    // What each resource has: an NSG has logs only; the storefront both (StaticSiteHttpLogs, StaticSiteDiagnosticLogs, DS-exportable metrics).
    // None where Azure exports nothing through diagnostic settings: the Standard NAT gateway (flow logs are StandardV2's;
    // metrics DS Export: No), private endpoints and private DNS zones (no log category; metrics DS Export: No).
    expect(settingsOn('Microsoft.Network/networkSecurityGroups').map((d) => d.properties)).toEqual(["[variables('logsOnly')]"]);
    expect(settingsOn('Microsoft.Web/staticSites').map((d) => d.properties)).toEqual(["[variables('allLogsAndMetrics')]"]);
    expect(moduleOutputReference(passedParameter(diagnostics.call, 'storefrontName'))).toEqual({ module: 'storefront', output: 'name' });
    expect(single(module(main, 'network').template, 'Microsoft.Network/natGateways').sku).toEqual({ name: 'Standard' });
    for (const type of ['Microsoft.Network/natGateways', 'Microsoft.Network/privateEndpoints', 'Microsoft.Network/privateDnsZones']) {
      expect(settingsOn(type), type).toEqual([]);
      expect(read('infra/modules/diagnostics.bicep'), `the reason ${type} has none is cited`).toMatch(new RegExp(`supported-metrics/${type.toLowerCase().replace('/', '-').replace('.', '-')}-metrics`));
    }
    expect(settingsOn('Microsoft.Communication/communicationServices').map((d) => d.properties)).toEqual(["[variables('allLogsAndMetrics')]"]);
    // The names passed are the network and communication modules' own.
    for (const [parameter, output] of [
      ['vnetName', 'vnetName'],
      ['brokerNsgName', 'brokerNsgName'],
      ['natPublicIpName', 'natPublicIpName'],
    ]) {
      expect(moduleOutputReference(passedParameter(diagnostics.call, parameter!)), parameter).toEqual({ module: 'network', output });
    }
    expect(moduleOutputReference(passedParameter(diagnostics.call, 'communicationName'))).toEqual({ module: 'communication', output: 'name' });
    const storageCalls = resourcesOfType(diagnostics.template, 'Microsoft.Resources/deployments');
    expect(storageCalls).toHaveLength(2);
    for (const name of ['allLogsAndMetrics', 'logsOnly', 'metricsOnly']) {
      expect((diagnostics.template.variables?.[name] as { workspaceId: string }).workspaceId, name).toBe("[parameters('workspaceId')]");
    }
  });

  it('when the app misbehaves, then log alerts watch 5xx rate, failing health (dependency or broker down, consumer missing) and dead letters', () => {
    const alerts = module(main, 'alerts');
    const rules = alerts.template.variables?.rules as { name: string; query: string }[];
    expect(rules.map((r) => r.name).sort()).toEqual(['alert-5xx-rate', 'alert-consumer-missing', 'alert-dead-letter-queue-depth', 'alert-dead-letters', 'alert-health-failing', 'alert-orders-stuck-pending']);
    expect(rules.find((r) => r.name === 'alert-health-failing')!.query).toContain('"/api/health" and resultCode == "503"');
    expect(rules.find((r) => r.name === 'alert-dead-letters')!.query).toContain('shop.messages.deadlettered');
    expect(passedParameter(alerts.call, 'applicationInsightsId')).toMatch(/'monitoring'\), '[^']+'\)\.outputs\.applicationInsightsId\.value\]$/);
    expect(appAlerts(alerts.template).properties.evaluationFrequency).toBe('PT5M');
  });

  it('when the broker VM stops sending metrics or raises a resource alarm, then an alert on the workspace fires, mailed like the others; an existing broker gets none', () => {
    const alerts = module(main, 'alerts');
    const rules = alerts.template.variables?.brokerRules as { name: string; query: string }[];
    expect(rules.map((r) => r.name)).toEqual(['alert-broker-down', 'alert-broker-resource-alarm']);
    expect(rules[0]!.query).toBe("[format('{0} | summarize samples = count() | where samples == 0', parameters('brokerMetricsTable'))]");
    expect(rules[1]!.query).toContain('where Series startswith "rabbitmq_alarms_" and Value > 0');
    const brokerAlerts = resourcesOfType(alerts.template, 'Microsoft.Insights/scheduledQueryRules').find((r) => r.copy?.count === "[length(variables('brokerRules'))]")!;
    expect(brokerAlerts.condition).toBe("[not(empty(parameters('brokerMetricsTable')))]");
    expect(brokerAlerts.properties.scopes).toEqual(["[parameters('workspaceId')]"]);
    expect(brokerAlerts.properties.windowSize).toBe('PT10M');
    expect(String(brokerAlerts.properties.actions.actionGroups)).toContain("resourceId('Microsoft.Insights/actionGroups', 'ag-shop')");
    expect(moduleOutputReference(passedParameter(alerts.call, 'brokerMetricsTable'))).toEqual({ module: 'rabbitmq', output: 'metricsTable' });
    expect(module(main, 'rabbitmq').template.outputs?.metricsTable?.value).toMatch(/^\[if\(variables\('deployBroker'\), reference\(.*'rabbitmq-vm'.*\.outputs\.metricsTable\.value, ''\)\]$/);
  });

  it('when a dead-letter queue holds messages, an order stays PENDING past 5 minutes or a trigger queue has no consumer, then an alert watches the gauge the app exports under that name', () => {
    const rules = module(main, 'alerts').template.variables?.rules as { name: string; query: string }[];
    const exported = read('src/adapters/telemetry/metrics.ts');
    const watched = [
      { rule: 'alert-dead-letter-queue-depth', metric: 'shop.queue.dead_letter_depth', condition: 'where value > 0' },
      { rule: 'alert-orders-stuck-pending', metric: 'shop.orders.oldest_pending_age_seconds', condition: 'where value > 300' },
      { rule: 'alert-consumer-missing', metric: 'shop.queue.consumers', condition: 'where value == 0' },
    ];
    // The consumers gauge is registered by the app (not only declared), with the trigger queues.
    expect(read('functions/health.ts')).toContain('observeQueueConsumers(() => services().queueMonitor.consumerCounts(Object.keys(bindings)))');
    for (const { rule, metric, condition } of watched) {
      expect(exported, metric).toContain(`createObservableGauge('${metric}'`);
      const query = rules.find((r) => r.name === rule)!.query;
      expect(query).toContain(`customMetrics | where name == "${metric}" | ${condition}`);
    }
    // Both mailed like the others: every rule takes the action group when ALERT_EMAIL is set.
    const scheduled = appAlerts(module(main, 'alerts').template);
    expect(String(scheduled.properties.actions.actionGroups)).toContain("resourceId('Microsoft.Insights/actionGroups', 'ag-shop')");
  });
});
