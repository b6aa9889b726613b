import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { secretSettingNames, settingNames } from '../../src/config.js';
import {
  callArguments,
  modules,
  objectEntries,
  outputs,
  params,
  resolveObject,
  resources,
  variables,
} from '../support/bicep.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const infra = join(root, 'infra');
const read = (path: string): string => readFileSync(path, 'utf8');

function bicepFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return bicepFiles(path);
    return entry.name.endsWith('.bicep') ? [path] : [];
  });
}

const templates = bicepFiles(infra);
const mainBicep = read(join(infra, 'main.bicep'));
const functionAppBicep = read(join(infra, 'modules', 'function-app.bicep'));

/** Settings the Functions host itself reads; anything else the template sets must be an app setting of src/config.ts. */
const hostSettingNames = new Set([
  'FUNCTIONS_EXTENSION_VERSION',
  'FUNCTIONS_WORKER_RUNTIME',
  'WEBSITE_CONTENTAZUREFILECONNECTIONSTRING',
  'WEBSITE_CONTENTSHARE',
  'WEBSITE_SKIP_CONTENTSHARE_VALIDATION',
  'SCM_DO_BUILD_DURING_DEPLOYMENT',
  'ENABLE_ORYX_BUILD',
]);
const isHostSetting = (name: string): boolean => hostSettingNames.has(name) || name.startsWith('AzureWebJobsStorage__');

/** Host settings whose values are secrets and so must come from Key Vault too. */
const hostSecretNames = ['WEBSITE_CONTENTAZUREFILECONNECTIONSTRING'];

function functionAppSettings(): Map<string, string> {
  const config = resources(functionAppBicep).filter(
    (r) => r.type === 'Microsoft.Web/sites/config' && objectEntries(r.body).get('name') === "'appsettings'",
  );
  expect(config).toHaveLength(1);
  const properties = objectEntries(config[0]!.body).get('properties');
  expect(properties).toBeDefined();
  return resolveObject(properties!, variables(functionAppBicep));
}

const keyVaultReference = /^'@Microsoft\.KeyVault\(SecretUri=\$\{\w+\}\)'$/;

/** Patterns that reveal a secret written into a template as a literal. */
const secretLiterals: { name: string; pattern: RegExp }[] = [
  { name: 'storage account key', pattern: /AccountKey=(?!\$\{)/ },
  { name: 'shared access signature', pattern: /[?&]sig=[A-Za-z0-9%]/ },
  {
    name: 'password, key or connection string property with a literal value',
    pattern:
      /\b\w*(?:password|passwd|pwd|secret|secureValue|accessKey|apiKey|accountKey|primaryKey|connectionString)\s*:\s*'(?![^']*\$\{)[^']+'/i,
  },
  { name: 'credentials in a URL', pattern: /\b(?:amqps?|postgres(?:ql)?|rediss?|mongodb|https?):\/\/[^\s'$/@:]+:[^\s'$@/]+@/ },
  { name: 'instrumentation key', pattern: /InstrumentationKey=[0-9a-f]{8}-/i },
];

describe('infra: function app settings', () => {
  it('when the template sets the app settings, then every setting of src/config.ts is among them', () => {
    const names = [...functionAppSettings().keys()];
    for (const name of settingNames) expect(names, `${name} is not set in function-app.bicep`).toContain(name);
  });

  it('when the template sets a setting, then it is either an app setting of src/config.ts or a known host setting', () => {
    const known = new Set<string>(settingNames);
    const unknown = [...functionAppSettings().keys()].filter((name) => !known.has(name) && !isHostSetting(name));
    expect(unknown).toEqual([]);
  });

  it('when a setting is a secret, then its value is a Key Vault reference', () => {
    const settings = functionAppSettings();
    for (const name of [...secretSettingNames, ...hostSecretNames]) {
      expect(settings.get(name), `${name} must be @Microsoft.KeyVault(SecretUri=...)`).toMatch(keyVaultReference);
    }
  });

  it('when a setting is not a secret, then it is no Key Vault reference (the secret list and the template agree)', () => {
    const secrets = new Set<string>([...secretSettingNames, ...hostSecretNames]);
    const references = [...functionAppSettings()].filter(([, value]) => value.includes('@Microsoft.KeyVault')).map(([name]) => name);
    expect(references.filter((name) => !secrets.has(name))).toEqual([]);
  });

  it('when host storage is configured, then it is identity-based (account name, no connection string)', () => {
    const settings = functionAppSettings();
    expect(settings.has('AzureWebJobsStorage')).toBe(false);
    expect(settings.get('AzureWebJobsStorage__accountName')).toBeDefined();
    expect(settings.get('FUNCTIONS_EXTENSION_VERSION')).toBe("'~4'");
    expect(settings.get('FUNCTIONS_WORKER_RUNTIME')).toBe("'node'");
  });

  it('when the function app is declared, then it runs Linux with a system-assigned identity and the azd service tag', () => {
    const [site] = resources(functionAppBicep).filter((r) => r.type === 'Microsoft.Web/sites' && !r.existing);
    expect(site).toBeDefined();
    const body = objectEntries(site!.body);
    expect(body.get('kind')).toBe("'functionapp,linux'");
    expect(objectEntries(body.get('identity')!).get('type')).toBe("'SystemAssigned'");
    expect(body.get('tags')).toMatch(/'azd-service-name':\s*'api'/);
    expect(site!.body).toMatch(/linuxFxVersion:\s*'Node\|\$\{nodeVersion\}'/);
  });

  it('when the plan SKU is chosen, then only plans that run the RabbitMQ trigger are allowed (no Consumption or Flex)', () => {
    const allowedSkus = (template: string, name: string): string[] => {
      const decorator = params(template).find((p) => p.name === name)?.decorators.find((d) => d.startsWith('@allowed('));
      expect(decorator, `${name} has no @allowed list`).toBeDefined();
      return [...decorator!.matchAll(/'([^']+)'/g)].map((m) => m[1]!);
    };
    for (const skus of [allowedSkus(functionAppBicep, 'planSku'), allowedSkus(mainBicep, 'appServicePlanSku')]) {
      expect(skus.length).toBeGreaterThan(0);
      expect(skus.filter((sku) => !/^(EP[123]|B[123]|S[123]|P\d+v3)$/.test(sku))).toEqual([]);
    }
    expect(params(mainBicep).find((p) => p.name === 'appServicePlanSku')?.defaultValue).toBe("'EP1'");
  });
});

describe('infra: main.parameters.json', () => {
  const file = JSON.parse(read(join(infra, 'main.parameters.json'))) as {
    parameters: Record<string, { value: unknown }>;
  };
  const declared = params(mainBicep);

  it('when main.bicep declares a parameter without a default, then the parameters file sets it', () => {
    const required = declared.filter((p) => p.defaultValue === undefined).map((p) => p.name);
    expect(required.length).toBeGreaterThan(0);
    expect(required.filter((name) => !(name in file.parameters))).toEqual([]);
  });

  it('when the parameters file names a parameter, then main.bicep declares it', () => {
    const names = new Set(declared.map((p) => p.name));
    expect(Object.keys(file.parameters).filter((name) => !names.has(name))).toEqual([]);
  });

  it('when a parameter is secure, then the file maps it to an azd environment variable, never a literal', () => {
    for (const p of declared.filter((d) => d.secure && d.name in file.parameters)) {
      expect(file.parameters[p.name]!.value, p.name).toMatch(/^\$\{[A-Z][A-Z0-9_]*\}$/);
    }
  });

  it('when azd substitutes the environment, then environmentName and location come from AZURE_ENV_NAME and AZURE_LOCATION', () => {
    expect(file.parameters.environmentName?.value).toBe('${AZURE_ENV_NAME}');
    expect(file.parameters.location?.value).toBe('${AZURE_LOCATION}');
  });
});

describe('infra: modules', () => {
  const calls = templates.flatMap((template) =>
    modules(read(template)).map((m) => ({ template, ...m, target: join(dirname(template), m.path) })),
  );

  it('when a template calls a module, then the module file exists', () => {
    expect(calls.length).toBeGreaterThan(0);
    const missing = calls.filter((c) => !existsSync(c.target)).map((c) => `${relative(root, c.template)}: ${c.path}`);
    expect(missing).toEqual([]);
  });

  it('when a module is given a parameter, then the module declares it', () => {
    for (const call of calls) {
      const declared = new Set(params(read(call.target)).map((p) => p.name));
      const passed = [...objectEntries(objectEntries(call.body).get('params') ?? '{}').keys()];
      const unknown = passed.filter((name) => !declared.has(name));
      expect(unknown, `${call.symbol} -> ${call.path}`).toEqual([]);
    }
  });

  it('when a module parameter has no default, then every call passes it', () => {
    for (const call of calls) {
      const passed = new Set(objectEntries(objectEntries(call.body).get('params') ?? '{}').keys());
      const missing = params(read(call.target))
        .filter((p) => p.defaultValue === undefined && !passed.has(p.name))
        .map((p) => p.name);
      expect(missing, `${call.symbol} -> ${call.path}`).toEqual([]);
    }
  });
});

describe('infra: secrets and network', () => {
  it('when the secret-literal patterns see secrets, then they flag them (the detector is not vacuous)', () => {
    const samples = [
      "value: 'DefaultEndpointsProtocol=https;AccountName=x;AccountKey=abc=='",
      "administratorLoginPassword: 'P@ssw0rd!'",
      "secureValue: 'guest'",
      "value: 'amqp://guest:guest@broker:5672'",
      "url: 'https://x.blob.core.windows.net/c?sv=1&sig=AbC%2F'",
    ];
    for (const sample of samples) {
      expect(secretLiterals.some(({ pattern }) => pattern.test(sample)), sample).toBe(true);
    }
    const clean = [
      "value: 'DefaultEndpointsProtocol=https;AccountName=${account.name};AccountKey=${account.listKeys().keys[0].value}'",
      'administratorLoginPassword: administratorLoginPassword',
      "value: 'amqp://${uriComponent(user)}:${uriComponent(password)}@${host}:5672'",
      "POSTGRES_URL: '@Microsoft.KeyVault(SecretUri=${postgresUrlSecretUri})'",
    ];
    for (const sample of clean) {
      expect(secretLiterals.filter(({ pattern }) => pattern.test(sample)).map((s) => s.name), sample).toEqual([]);
    }
  });

  it('when any template is read, then it holds no secret literal', () => {
    const findings = templates.flatMap((template) =>
      read(template)
        .split('\n')
        .flatMap((line, i) =>
          secretLiterals
            .filter(({ pattern }) => pattern.test(line))
            .map(({ name }) => `${relative(root, template)}:${i + 1} ${name}`),
        ),
    );
    expect(findings).toEqual([]);
  });

  it('when a parameter is secure, then it has no default other than the empty string', () => {
    for (const template of templates) {
      for (const p of params(read(template)).filter((d) => d.secure && d.defaultValue !== undefined)) {
        expect(p.defaultValue, `${relative(root, template)}: ${p.name}`).toBe("''");
      }
    }
  });

  it('when a parameter is a password or URL that may carry credentials, then it is secure', () => {
    for (const template of templates) {
      const risky = params(read(template)).filter((p) => /password|url$|connectionString|key$/i.test(p.name) && !/SecretUri$/.test(p.name));
      for (const p of risky) expect(p.secure, `${relative(root, template)}: ${p.name} must be @secure()`).toBe(true);
    }
  });

  it('when Postgres firewall rules are declared, then none spans the whole internet', () => {
    const rules = templates.flatMap((template) =>
      resources(read(template))
        .filter((r) => r.type === 'Microsoft.DBforPostgreSQL/flexibleServers/firewallRules')
        .map((r) => ({ template, props: objectEntries(objectEntries(r.body).get('properties')!) })),
    );
    expect(rules.length).toBeGreaterThan(0);
    for (const { template, props } of rules) {
      const start = props.get('startIpAddress');
      const end = props.get('endIpAddress');
      expect(start, relative(root, template)).toBeDefined();
      const wholeInternet = start === "'0.0.0.0'" && end === "'255.255.255.255'";
      // A literal range is only allowed as the documented "Azure services" rule, 0.0.0.0 to 0.0.0.0.
      const literalRange = /^'/.test(start!) && /^'/.test(end!) && !(start === "'0.0.0.0'" && end === "'0.0.0.0'");
      expect(wholeInternet || literalRange, `${relative(root, template)}: ${start} - ${end}`).toBe(false);
    }
  });

  it('when Postgres is configured, then TLS is required on the server and in the app URL', () => {
    const postgres = read(join(infra, 'modules', 'postgres.bicep'));
    const tls = resources(postgres).find((r) => r.type === 'Microsoft.DBforPostgreSQL/flexibleServers/configurations');
    expect(tls).toBeDefined();
    const body = objectEntries(tls!.body);
    expect(body.get('name')).toBe("'require_secure_transport'");
    expect(objectEntries(body.get('properties')!).get('value')).toBe("'on'");
    expect(postgres).toMatch(/'postgres:\/\/[^']*\/\$\{database\.name\}\?sslmode=require'/);
    expect(postgres).toMatch(/param databaseName string = 'ecommerce'/);
  });

  it('when Redis is configured, then only TLS on 6380 is open and the URL uses rediss://', () => {
    const redis = read(join(infra, 'modules', 'redis.bicep'));
    expect(redis).toMatch(/enableNonSslPort:\s*false/);
    expect(redis).toMatch(/'rediss:\/\/:\$\{[^']+\}@\$\{cache\.properties\.hostName\}:\$\{cache\.properties\.sslPort\}'/);
  });

  it('when Key Vault is declared, then it uses RBAC authorization', () => {
    const vault = resources(read(join(infra, 'modules', 'keyvault.bicep'))).find((r) => r.type === 'Microsoft.KeyVault/vaults');
    expect(objectEntries(objectEntries(vault!.body).get('properties')!).get('enableRbacAuthorization')).toBe('true');
  });

  it('when the function app identity is granted roles, then it can read Key Vault secrets and use host storage', () => {
    expect(functionAppBicep).toContain('4633458b-17de-408a-b874-0445c86b69e6'); // Key Vault Secrets User
    expect(functionAppBicep).toContain('b7e6dc6d-f1e8-4753-8033-0f276bb0955b'); // Storage Blob Data Owner
  });
});

describe('infra: azd conventions', () => {
  it('when azure.yaml is parsed, then it declares the api service hosted as a function from the project root', () => {
    const manifest = parseYaml(read(join(root, 'azure.yaml'))) as {
      services: Record<string, { host: string; language: string; project: string }>;
    };
    const api = manifest.services.api;
    expect(api).toBeDefined();
    expect(api!.host).toBe('function');
    expect(['ts', 'js']).toContain(api!.language);
    expect(api!.project).toBe('.');
  });

  it('when azure.yaml names hook scripts, then they exist', () => {
    const manifest = parseYaml(read(join(root, 'azure.yaml'))) as {
      hooks?: Record<string, Record<string, { run: string }>>;
    };
    const scripts = Object.values(manifest.hooks ?? {}).flatMap((hook) => Object.values(hook).map((h) => h.run));
    for (const script of scripts) expect(existsSync(join(root, script)), script).toBe(true);
  });

  it('when main.bicep is read, then it targets the subscription and names things from the environment and a unique suffix', () => {
    expect(mainBicep).toMatch(/^targetScope = 'subscription'$/m);
    expect(mainBicep).toMatch(/uniqueString\(subscription\(\)\.id, environmentName, location\)/);
    const rg = resources(mainBicep).find((r) => r.type === 'Microsoft.Resources/resourceGroups');
    expect(rg).toBeDefined();
  });

  it('when a top-level resource is declared, then it carries the azd-env-name tags', () => {
    const untagged = templates.flatMap((template) =>
      resources(read(template))
        .filter((r) => !r.existing && r.type.split('/').length === 2 && !r.type.startsWith('Microsoft.Authorization/'))
        .filter((r) => !r.type.startsWith('Microsoft.Graph/'))
        .filter((r) => !objectEntries(r.body).has('tags'))
        .map((r) => `${relative(root, template)}: ${r.symbol}`),
    );
    expect(untagged).toEqual([]);
    expect(mainBicep).toMatch(/'azd-env-name':\s*environmentName/);
  });

  it('when main.bicep is deployed, then it outputs the API base URL, App Insights, resource group and function app names', () => {
    const out = outputs(mainBicep);
    expect(out.get('API_BASE_URL')).toMatch(/^'https:\/\/\$\{[^}]+\}\/api'$/);
    for (const name of ['APPLICATIONINSIGHTS_NAME', 'AZURE_RESOURCE_GROUP', 'AZURE_FUNCTION_APP_NAME']) {
      expect(out.has(name), name).toBe(true);
    }
  });

  it('when the optional Entra module is used, then it declares the Graph extension, both app roles and the scope', () => {
    const entra = read(join(infra, 'modules', 'entra-app.bicep'));
    expect(entra).toMatch(/^extension microsoftGraphV1$/m);
    for (const value of ['Products.Write', 'Orders.Read.All', 'access_as_user']) expect(entra).toContain(`value: '${value}'`);
    const config = JSON.parse(read(join(infra, 'bicepconfig.json'))) as { extensions: Record<string, string> };
    expect(config.extensions.microsoftGraphV1).toMatch(/^br:mcr\.microsoft\.com\/bicep\/extensions\/microsoftgraph\/v1\.0:/);
    expect(params(mainBicep).find((p) => p.name === 'createEntraApp')?.defaultValue).toBe('false');
  });

  it('when the union of settings is parsed, then the reader handles nested calls', () => {
    expect(callArguments("union(a, { b: 'x,y' }, f(c, d))", 'union')).toEqual(['a', "{ b: 'x,y' }", 'f(c, d)']);
  });
});
