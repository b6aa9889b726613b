// Entry point for `azd up` / `az deployment sub create`: one resource group holding the function app
// and everything it talks to. Layout follows Azure-Samples/functions-quickstart-typescript-azd
// (subscription scope, resourceToken naming, azd-env-name tags). See docs/deploy.md.
targetScope = 'subscription'

@minLength(1)
@maxLength(64)
@description('azd environment name; used in the resource group name, tags and the name suffix.')
param environmentName string

@minLength(1)
@description('Region for every resource.')
@metadata({
  azd: {
    type: 'location'
  }
})
param location string

@description('Object id of the deploying user; gets "Key Vault Secrets User" so the postprovision hook can read the connection strings. Empty: no assignment.')
param principalId string = ''

@description('Type of principalId: User, or ServicePrincipal when azd runs in CI.')
@allowed([
  'User'
  'ServicePrincipal'
])
param principalType string = 'User'

// RabbitMQ triggers are supported on Elastic Premium and Dedicated plans only, not on Consumption or
// Flex Consumption: https://learn.microsoft.com/azure/azure-functions/functions-bindings-rabbitmq
@description('Function app plan: EP* = Elastic Premium (default), the others are Dedicated (App Service) plans.')
@allowed([
  'EP1'
  'EP2'
  'EP3'
  'B1'
  'S1'
  'P0v3'
  'P1v3'
])
param appServicePlanSku string = 'EP1'

@description('Node.js major version of the Functions worker.')
@allowed([
  '20'
  '22'
])
param nodeVersion string = '20'

@description('Postgres administrator login (not a secret; the password is).')
param postgresAdminLogin string = 'shopadmin'

@secure()
@description('Postgres administrator password. azd generates one when POSTGRES_ADMIN_PASSWORD is not set.')
@metadata({
  azd: {
    type: 'generate'
    config: {
      length: 32
      noSpecial: true
    }
  }
})
param postgresAdminPassword string

@description('Allow every Azure service to reach Postgres (the documented 0.0.0.0 rule). Off: only the function app outbound IPs and clientIpAddress are allowed.')
param postgresAllowAzureServices bool = false

@description('Public IP of the machine that runs `npm run setup` against Postgres (firewall rule). Empty: none.')
param clientIpAddress string = ''

@secure()
@description('AMQP URL of an existing broker. When set, no RabbitMQ container is deployed.')
param rabbitMqUrl string = ''

@description('Image of the RabbitMQ container deployed when rabbitMqUrl is empty.')
param rabbitMqImage string = 'rabbitmq:3-management'

@description('RabbitMQ user of the deployed container.')
param rabbitMqUser string = 'shop'

@secure()
@description('Password of the deployed RabbitMQ container. azd generates one when RABBITMQ_PASSWORD is not set.')
@metadata({
  azd: {
    type: 'generate'
    config: {
      length: 32
      noSpecial: true
    }
  }
})
param rabbitMqPassword string

@description('Entra tenant id (GUID). Empty: the tenant of the deployment.')
param entraTenantId string = ''

@description('Application (client) id of the API app registration. Ignored when createEntraApp is true.')
param entraClientId string = ''

@description('Optional: expected token issuer (ENTRA_ISSUER).')
param entraIssuer string = ''

@description('Optional: signing keys URI (ENTRA_JWKS_URI).')
param entraJwksUri string = ''

@description('Create the API app registration with the Microsoft Graph Bicep extension (needs Graph permissions; see docs/deploy.md).')
param createEntraApp bool = false

@description('Optional OTLP/HTTP endpoint (OTEL_EXPORTER_OTLP_ENDPOINT).')
param otelExporterOtlpEndpoint string = ''

@minValue(1)
@maxValue(200)
param pgPoolMax int = 10

@description('Simulated payment provider: orders with a total above this amount are declined.')
param paymentDeclineAbove string = '10000'

@minValue(0)
@maxValue(60000)
param paymentLatencyMs int = 0

var abbrs = loadJsonContent('./abbreviations.json')
var resourceToken = toLower(uniqueString(subscription().id, environmentName, location))
var isElasticPremium = startsWith(appServicePlanSku, 'EP')
var tags = {
  'azd-env-name': environmentName
}

resource rg 'Microsoft.Resources/resourceGroups@2022-09-01' = {
  name: '${abbrs.resourcesResourceGroups}${environmentName}'
  location: location
  tags: tags
}

module keyVault 'modules/keyvault.bicep' = {
  name: 'keyvault'
  scope: rg
  params: {
    name: '${abbrs.keyVaultVaults}${resourceToken}'
    location: location
    tags: tags
    readerPrincipalId: principalId
    readerPrincipalType: principalType
  }
}

module monitoring 'modules/monitoring.bicep' = {
  name: 'monitoring'
  scope: rg
  params: {
    logAnalyticsName: '${abbrs.operationalInsightsWorkspaces}${resourceToken}'
    applicationInsightsName: '${abbrs.insightsComponents}${resourceToken}'
    location: location
    tags: tags
    keyVaultName: keyVault.outputs.name
  }
}

module storage 'modules/storage.bicep' = {
  name: 'storage'
  scope: rg
  params: {
    name: '${abbrs.storageStorageAccounts}${resourceToken}'
    location: location
    tags: tags
    keyVaultName: keyVault.outputs.name
    contentShareName: functionAppName
    createContentShare: isElasticPremium
    sharedKeyAccess: isElasticPremium || empty(rabbitMqUrl)
  }
}

module postgres 'modules/postgres.bicep' = {
  name: 'postgres'
  scope: rg
  params: {
    name: '${abbrs.dBforPostgreSQLServers}${resourceToken}'
    location: location
    tags: tags
    administratorLogin: postgresAdminLogin
    administratorLoginPassword: postgresAdminPassword
    keyVaultName: keyVault.outputs.name
  }
}

module redis 'modules/redis.bicep' = {
  name: 'redis'
  scope: rg
  params: {
    name: '${abbrs.cacheRedis}${resourceToken}'
    location: location
    tags: tags
    keyVaultName: keyVault.outputs.name
  }
}

module rabbitMq 'modules/rabbitmq.bicep' = {
  name: 'rabbitmq'
  scope: rg
  params: {
    name: '${abbrs.containerInstanceContainerGroups}rabbitmq-${resourceToken}'
    location: location
    tags: tags
    existingUrl: rabbitMqUrl
    image: rabbitMqImage
    user: rabbitMqUser
    password: rabbitMqPassword
    storageAccountName: storage.outputs.name
    keyVaultName: keyVault.outputs.name
  }
}

// Two passes: identifierUris must be api://<appId>, and an app registration can't reference its own appId.
module entraApp 'modules/entra-app.bicep' = if (createEntraApp) {
  name: 'entra-app'
  scope: rg
  params: {
    uniqueName: 'shop-api-${resourceToken}'
    displayName: 'Shop API (${environmentName})'
    identifierUris: []
  }
}

module entraAppUri 'modules/entra-app.bicep' = if (createEntraApp) {
  name: 'entra-app-uri'
  scope: rg
  params: {
    uniqueName: 'shop-api-${resourceToken}'
    displayName: 'Shop API (${environmentName})'
    identifierUris: [
      'api://${entraApp.outputs.appId}'
    ]
  }
}

var functionAppName = '${abbrs.webSitesFunctions}api-${resourceToken}'

module api 'modules/function-app.bicep' = {
  name: 'api'
  scope: rg
  params: {
    name: functionAppName
    planName: '${abbrs.webServerFarms}${resourceToken}'
    location: location
    tags: tags
    planSku: appServicePlanSku
    nodeVersion: nodeVersion
    storageAccountName: storage.outputs.name
    contentShareName: functionAppName
    contentShareConnectionSecretUri: storage.outputs.contentShareConnectionSecretUri
    keyVaultName: keyVault.outputs.name
    postgresUrlSecretUri: postgres.outputs.urlSecretUri
    redisUrlSecretUri: redis.outputs.urlSecretUri
    rabbitMqUrlSecretUri: rabbitMq.outputs.urlSecretUri
    applicationInsightsConnectionStringSecretUri: monitoring.outputs.connectionStringSecretUri
    entraTenantId: empty(entraTenantId) ? tenant().tenantId : entraTenantId
    entraClientId: createEntraApp ? entraAppUri.outputs.appId : entraClientId
    entraIssuer: entraIssuer
    entraJwksUri: entraJwksUri
    otelExporterOtlpEndpoint: otelExporterOtlpEndpoint
    pgPoolMax: pgPoolMax
    paymentDeclineAbove: paymentDeclineAbove
    paymentLatencyMs: paymentLatencyMs
  }
}

module firewall 'modules/firewall.bicep' = {
  name: 'firewall'
  scope: rg
  params: {
    postgresServerName: postgres.outputs.name
    redisName: redis.outputs.name
    appOutboundIpAddresses: api.outputs.possibleOutboundIpAddresses
    clientIpAddress: clientIpAddress
    allowAzureServices: postgresAllowAzureServices
  }
}

output AZURE_LOCATION string = location
output AZURE_TENANT_ID string = tenant().tenantId
output AZURE_RESOURCE_GROUP string = rg.name
output AZURE_FUNCTION_APP_NAME string = api.outputs.name
output SERVICE_API_NAME string = api.outputs.name
output API_BASE_URL string = 'https://${api.outputs.defaultHostName}/api'
output APPLICATIONINSIGHTS_NAME string = monitoring.outputs.applicationInsightsName
output AZURE_KEY_VAULT_NAME string = keyVault.outputs.name
output POSTGRES_HOST string = postgres.outputs.fullyQualifiedDomainName
output RABBITMQ_HOST string = rabbitMq.outputs.host
output ENTRA_CLIENT_ID string = createEntraApp ? entraAppUri.outputs.appId : entraClientId
