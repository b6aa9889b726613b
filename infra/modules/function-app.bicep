// The function app: Linux, Node, Functions v4, system-assigned identity, on an Elastic Premium or
// Dedicated plan (the RabbitMQ trigger is not supported on Consumption or Flex Consumption:
// https://learn.microsoft.com/azure/azure-functions/functions-bindings-rabbitmq).
//
// App settings are written by a separate `config/appsettings` resource that depends on the role
// assignments: Key Vault references are resolved when settings change, so writing them after the
// identity may read the vault makes the first start resolve them.
// https://learn.microsoft.com/azure/app-service/app-service-key-vault-references#rotation
param name string
param planName string
param location string
param tags object

@allowed([
  'EP1'
  'EP2'
  'EP3'
  'B1'
  'S1'
  'P0v3'
  'P1v3'
])
param planSku string

@description('Elastic Premium only: upper bound of instances.')
param maximumElasticWorkerCount int = 5

param nodeVersion string
param storageAccountName string
param keyVaultName string

@description('Elastic Premium only: Azure Files content share and the Key Vault secret holding its connection string.')
param contentShareName string
param contentShareConnectionSecretUri string

param postgresUrlSecretUri string
param redisUrlSecretUri string
param rabbitMqUrlSecretUri string
param applicationInsightsConnectionStringSecretUri string

param entraTenantId string
param entraClientId string
param entraIssuer string = ''
param entraJwksUri string = ''
param otelExporterOtlpEndpoint string = ''
param pgPoolMax int = 10
param paymentDeclineAbove string = '10000'
param paymentLatencyMs int = 0

var isElasticPremium = startsWith(planSku, 'EP')
var planTiers = {
  EP1: 'ElasticPremium'
  EP2: 'ElasticPremium'
  EP3: 'ElasticPremium'
  B1: 'Basic'
  S1: 'Standard'
  P0v3: 'Premium0V3'
  P1v3: 'PremiumV3'
}

// Host storage roles for an identity-based AzureWebJobsStorage: Blob Data Owner is the host's minimum;
// Table (diagnostic events) and Queue (blob-trigger and other extensions) per
// https://learn.microsoft.com/azure/azure-functions/functions-reference#connecting-to-host-storage-with-an-identity
var storageRoleIds = [
  'b7e6dc6d-f1e8-4753-8033-0f276bb0955b' // Storage Blob Data Owner
  '974c5e8b-45b9-4653-ba55-5f855dd0fb88' // Storage Queue Data Contributor
  '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3' // Storage Table Data Contributor
]
var keyVaultSecretsUserRoleId = '4633458b-17de-408a-b874-0445c86b69e6'

resource plan 'Microsoft.Web/serverfarms@2024-04-01' = {
  name: planName
  location: location
  tags: tags
  kind: isElasticPremium ? 'elastic' : 'linux'
  sku: {
    name: planSku
    tier: planTiers[planSku]
  }
  properties: {
    reserved: true
    maximumElasticWorkerCount: isElasticPremium ? maximumElasticWorkerCount : null
  }
}

resource site 'Microsoft.Web/sites@2024-04-01' = {
  name: name
  location: location
  tags: union(tags, {
    'azd-service-name': 'api'
  })
  kind: 'functionapp,linux'
  identity: {
    type: 'SystemAssigned'
  }
  properties: {
    serverFarmId: plan.id
    reserved: true
    httpsOnly: true
    siteConfig: {
      // Linux apps pick the Node version here; WEBSITE_NODE_DEFAULT_VERSION is for Windows only.
      // https://learn.microsoft.com/azure/azure-functions/functions-app-settings#website_node_default_version
      linuxFxVersion: 'Node|${nodeVersion}'
      // Dedicated plans idle out without Always On and non-HTTP triggers (RabbitMQ) stop firing;
      // Elastic Premium keeps at least one always-ready instance instead.
      // https://learn.microsoft.com/azure/azure-functions/dedicated-plan#always-on
      alwaysOn: !isElasticPremium
      minimumElasticInstanceCount: isElasticPremium ? 1 : null
      minTlsVersion: '1.2'
      ftpsState: 'Disabled'
      http20Enabled: true
    }
  }
}

resource storageAccount 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: storageAccountName
}

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' existing = {
  name: keyVaultName
}

resource storageRoles 'Microsoft.Authorization/roleAssignments@2022-04-01' = [
  for roleId in storageRoleIds: {
    name: guid(storageAccount.id, site.id, roleId)
    scope: storageAccount
    properties: {
      roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleId)
      principalId: site.identity.principalId
      principalType: 'ServicePrincipal'
    }
  }
]

resource secretsUserRole 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(vault.id, site.id, keyVaultSecretsUserRoleId)
  scope: vault
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', keyVaultSecretsUserRoleId)
    principalId: site.identity.principalId
    principalType: 'ServicePrincipal'
  }
}

// The host's own settings.
var hostSettings = {
  FUNCTIONS_EXTENSION_VERSION: '~4'
  FUNCTIONS_WORKER_RUNTIME: 'node'
  // Identity-based host storage: no account key in the app settings.
  // https://learn.microsoft.com/azure/azure-functions/functions-reference#connecting-to-host-storage-with-an-identity
  AzureWebJobsStorage__accountName: storageAccount.name
  AzureWebJobsStorage__credential: 'managedidentity'
  // azd deploys a zip; the platform runs `npm install` and `npm run build` (remote build on Linux).
  // https://learn.microsoft.com/azure/azure-functions/functions-deployment-technologies#remote-build
  SCM_DO_BUILD_DURING_DEPLOYMENT: 'true'
  ENABLE_ORYX_BUILD: 'true'
}

// Elastic Premium keeps app content on Azure Files, which only takes a connection string; it goes
// through Key Vault, which needs WEBSITE_SKIP_CONTENTSHARE_VALIDATION=1 and a pre-created share.
// https://learn.microsoft.com/azure/azure-functions/functions-app-settings#website_contentazurefileconnectionstring
// https://learn.microsoft.com/azure/app-service/app-service-key-vault-references#considerations-for-azure-files-mounting
var contentShareSettings = isElasticPremium ? {
  WEBSITE_CONTENTAZUREFILECONNECTIONSTRING: '@Microsoft.KeyVault(SecretUri=${contentShareConnectionSecretUri})'
  WEBSITE_CONTENTSHARE: contentShareName
  WEBSITE_SKIP_CONTENTSHARE_VALIDATION: '1'
} : {}

// Every setting of src/config.ts (test/unit/infra.test.ts keeps the two in step).
var applicationSettings = {
  POSTGRES_URL: '@Microsoft.KeyVault(SecretUri=${postgresUrlSecretUri})'
  REDIS_URL: '@Microsoft.KeyVault(SecretUri=${redisUrlSecretUri})'
  RABBITMQ_URL: '@Microsoft.KeyVault(SecretUri=${rabbitMqUrlSecretUri})'
  APPLICATIONINSIGHTS_CONNECTION_STRING: '@Microsoft.KeyVault(SecretUri=${applicationInsightsConnectionStringSecretUri})'
  ENTRA_TENANT_ID: entraTenantId
  ENTRA_CLIENT_ID: entraClientId
  ENTRA_ISSUER: entraIssuer
  ENTRA_JWKS_URI: entraJwksUri
  OTEL_EXPORTER_OTLP_ENDPOINT: otelExporterOtlpEndpoint
  PG_POOL_MAX: string(pgPoolMax)
  PAYMENT_DECLINE_ABOVE: paymentDeclineAbove
  PAYMENT_LATENCY_MS: string(paymentLatencyMs)
}

resource appSettings 'Microsoft.Web/sites/config@2024-04-01' = {
  parent: site
  name: 'appsettings'
  properties: union(hostSettings, contentShareSettings, applicationSettings)
  dependsOn: [
    storageRoles
    secretsUserRole
  ]
}

output name string = site.name
output defaultHostName string = site.properties.defaultHostName
output principalId string = site.identity.principalId
@description('Comma-separated outbound IPs the app may use; firewall.bicep allows them on Postgres and Redis.')
output possibleOutboundIpAddresses string = site.properties.possibleOutboundIpAddresses
