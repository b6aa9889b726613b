// Entry point for `azd up` / `az deployment sub create`: one resource group holding the function app, the
// storefront and everything they talk to, on a private network. Layout follows
// Azure-Samples/functions-quickstart-typescript-azd (subscription scope, resourceToken naming,
// azd-env-name tags). See docs/deploy.md.
targetScope = 'subscription'

@minLength(1)
@maxLength(64)
@description('azd environment name; used in the resource group name, tags and the name suffix.')
param environmentName string

@minLength(1)
@description('Region for every resource but the storefront.')
@metadata({
  azd: {
    type: 'location'
  }
})
param location string

@description('Where Azure Communication Services (customer emails) keeps data at rest.')
@allowed([
  'Africa'
  'Asia Pacific'
  'Australia'
  'Brazil'
  'Canada'
  'Europe'
  'France'
  'Germany'
  'India'
  'Japan'
  'Korea'
  'Norway'
  'Switzerland'
  'UAE'
  'UK'
  'United States'
])
param communicationDataLocation string = 'Europe'

@description('Function app plan (Elastic Premium: the plan that runs the RabbitMQ trigger and scales on queue depth).')
@allowed([
  'EP1'
  'EP2'
  'EP3'
])
param appServicePlanSku string = 'EP1'

// The Postgres budget below holds for every value allowed here (pgPoolMax x workerProcessCount x 20).
@minValue(1)
@maxValue(20)
@description('Upper bound of function app instances.')
param maximumElasticWorkerCount int = 10

@description('Node.js major version of the Functions worker.')
@allowed([
  '22'
])
param nodeVersion string = '22'

@description('Postgres administrator login (not a secret; the password is).')
param postgresAdminLogin string = 'shopadmin'

@secure()
@minLength(16)
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

@secure()
@description('AMQP(S) URL of an existing broker (e.g. a managed RabbitMQ service). When set, no broker VM is deployed.')
param rabbitMqExistingUrl string = ''

@description('Broker VM: host name its TLS certificate is issued for, e.g. rabbitmq.shop.example.com (required unless rabbitMqExistingUrl is set).')
param rabbitMqHostName string = ''

@description('Broker VM: Key Vault secret URI of that certificate (required unless rabbitMqExistingUrl is set).')
param rabbitMqCertificateSecretUri string = ''

@description('Broker VM: resource id of the vault holding the certificate (required unless rabbitMqExistingUrl is set).')
param rabbitMqCertificateVaultId string = ''

@description('Broker VM: SSH public key of its admin user (required unless rabbitMqExistingUrl is set).')
param rabbitMqAdminSshPublicKey string = ''

@secure()
@minLength(16)
@description('Password of the broker VM\'s RabbitMQ user. azd generates one when RABBITMQ_PASSWORD is not set.')
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

@description('Optional: where alerts are mailed (ALERT_EMAIL). Empty: alerts show in the portal only.')
param alertEmail string = ''

@description('Entra tenant id (GUID). Empty: the tenant of the deployment.')
param entraTenantId string = ''

@minLength(36)
@maxLength(36)
@description('Application (client) id of the API app registration (GUID); required: an app without it rejects every request.')
param entraClientId string

@description('Optional: expected token issuer (ENTRA_ISSUER).')
param entraIssuer string = ''

@description('Optional: signing keys URI (ENTRA_JWKS_URI).')
param entraJwksUri string = ''

@description('Optional OTLP/HTTP endpoint (OTEL_EXPORTER_OTLP_ENDPOINT).')
param otelExporterOtlpEndpoint string = ''

@minValue(1)
@maxValue(12)
@description('Postgres connections per worker process (PG_POOL_MAX); bounded so the budget holds at maximum scale-out.')
param pgPoolMax int = 10

@description('Simulated payment provider: orders with a total above this amount are declined.')
param paymentDeclineAbove string = '10000'

@minValue(0)
@maxValue(60000)
param paymentLatencyMs int = 0

@description('Deadline of one payment provider call (ms). The app refuses to start unless it ends at least 2 s before paymentLeaseSeconds, and is above paymentLatencyMs.')
@minValue(100)
@maxValue(48000)
param paymentProviderTimeoutMs int = 8000

@description('How long a PENDING payment stays leased to the attempt calling the provider before a redelivery or the resolver may take it over (s).')
@minValue(1)
@maxValue(50)
param paymentLeaseSeconds int = 12

@minValue(1)
@maxValue(86400)
param orderRedriveAfterSeconds int = 120

@minValue(1)
@maxValue(604800)
param orderCancelAfterSeconds int = 1800

@description('CATALOG_PUBLIC_READ: signed-out visitors may browse, search and view products.')
param catalogPublicRead bool = false

@description('Region of the storefront (Static Web Apps runs in a few regions only; it serves from a global edge anyway).')
@allowed([
  'westus2'
  'centralus'
  'eastus2'
  'westeurope'
  'eastasia'
])
param storefrontLocation string = 'westeurope'

var abbrs = loadJsonContent('./abbreviations.json')
var resourceToken = toLower(uniqueString(subscription().id, environmentName, location))
var tags = {
  'azd-env-name': environmentName
}
var functionAppName = '${abbrs.webSitesFunctions}api-${resourceToken}'

// Postgres connection budget (postgres.bicep): every worker process of every instance may hold
// pgPoolMax connections through PgBouncer, which holds at most pgbouncerPoolSize on the server, and two
// straight to the server: the LISTEN client (productChanges.ts) and the migration client at start
// (migrate.ts). test/unit/infra.test.ts counts the clients src/ opens and checks the sums.
var workerProcessCount = 1
var pgbouncerPoolSize = 240

resource rg 'Microsoft.Resources/resourceGroups@2024-11-01' = {
  name: '${abbrs.resourcesResourceGroups}${environmentName}'
  location: location
  tags: tags
}

module network 'modules/network.bicep' = {
  name: 'network'
  scope: rg
  params: {
    namePrefix: resourceToken
    location: location
    tags: tags
  }
}

module identity 'modules/identity.bicep' = {
  name: 'identity'
  scope: rg
  params: {
    name: '${abbrs.managedIdentityUserAssignedIdentities}api-${resourceToken}'
    location: location
    tags: tags
  }
}

module keyVault 'modules/keyvault.bicep' = {
  name: 'keyvault'
  scope: rg
  params: {
    name: '${abbrs.keyVaultVaults}${resourceToken}'
    location: location
    tags: tags
    endpointsSubnetId: network.outputs.endpointsSubnetId
    privateDnsZoneId: network.outputs.dnsZoneIds.vault
    appPrincipalId: identity.outputs.principalId
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
    appPrincipalId: identity.outputs.principalId
  }
}

var hostStorageName = '${abbrs.storageStorageAccounts}${resourceToken}'

resource hostStorage 'Microsoft.Storage/storageAccounts@2024-01-01' existing = {
  name: hostStorageName
  scope: rg
}

module storage 'modules/storage.bicep' = {
  name: 'storage'
  scope: rg
  params: {
    name: hostStorageName
    location: location
    tags: tags
    endpointsSubnetId: network.outputs.endpointsSubnetId
    privateDnsZoneIds: network.outputs.dnsZoneIds
    appPrincipalId: identity.outputs.principalId
    contentShareName: functionAppName
  }
}

module images 'modules/images.bicep' = {
  name: 'images'
  scope: rg
  params: {
    name: '${abbrs.storageStorageAccounts}img${resourceToken}'
    location: location
    tags: tags
    appPrincipalId: identity.outputs.principalId
    containerName: 'product-images'
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
    endpointsSubnetId: network.outputs.endpointsSubnetId
    privateDnsZoneId: network.outputs.dnsZoneIds.postgres
    pgbouncerPoolSize: pgbouncerPoolSize
    appIdentityName: identity.outputs.name
    appPrincipalId: identity.outputs.principalId
  }
}

module redis 'modules/redis.bicep' = {
  name: 'redis'
  scope: rg
  params: {
    name: '${abbrs.cacheRedisEnterprise}${resourceToken}'
    location: location
    tags: tags
    endpointsSubnetId: network.outputs.endpointsSubnetId
    privateDnsZoneId: network.outputs.dnsZoneIds.redis
    appPrincipalId: identity.outputs.principalId
  }
}

module rabbitMq 'modules/rabbitmq.bicep' = {
  name: 'rabbitmq'
  scope: rg
  params: {
    namePrefix: resourceToken
    location: location
    tags: tags
    keyVaultName: keyVault.outputs.name
    existingUrl: rabbitMqExistingUrl
    hostName: rabbitMqHostName
    certificateSecretUri: rabbitMqCertificateSecretUri
    certificateVaultId: rabbitMqCertificateVaultId
    adminSshPublicKey: rabbitMqAdminSshPublicKey
    password: rabbitMqPassword
    vnetName: network.outputs.vnetName
    workspaceId: monitoring.outputs.workspaceId
    brokerSubnetId: network.outputs.brokerSubnetId
    brokerSubnetPrefix: network.outputs.brokerSubnetPrefix
  }
}

module storefront 'modules/storefront.bicep' = {
  name: 'storefront'
  scope: rg
  params: {
    name: '${abbrs.webStaticSites}${resourceToken}'
    location: storefrontLocation
    tags: tags
  }
}

module communication 'modules/communication.bicep' = {
  name: 'communication'
  scope: rg
  params: {
    name: '${abbrs.communicationCommunicationServices}${resourceToken}'
    tags: tags
    dataLocation: communicationDataLocation
    appPrincipalId: identity.outputs.principalId
  }
}

module api 'modules/function-app.bicep' = {
  name: 'api'
  scope: rg
  params: {
    name: functionAppName
    planName: '${abbrs.webServerFarms}${resourceToken}'
    location: location
    tags: tags
    planSku: appServicePlanSku
    maximumElasticWorkerCount: maximumElasticWorkerCount
    nodeVersion: nodeVersion
    identityId: identity.outputs.id
    identityClientId: identity.outputs.clientId
    identityPrincipalId: identity.outputs.principalId
    appSubnetId: network.outputs.appSubnetId
    storageAccountName: storage.outputs.name
    // Read once storage.bicep has created the account (storage.outputs above orders it).
    contentShareConnectionString: 'DefaultEndpointsProtocol=https;AccountName=${hostStorage.name};AccountKey=${hostStorage.listKeys().keys[0].value};EndpointSuffix=${environment().suffixes.storage}'
    contentShareName: storage.outputs.contentShareName
    postgresUrl: postgres.outputs.url
    postgresDirectUrl: postgres.outputs.directUrl
    redisUrl: redis.outputs.url
    rabbitMqUrlSecretUri: rabbitMq.outputs.urlSecretUri
    applicationInsightsConnectionStringSecretUri: monitoring.outputs.connectionStringSecretUri
    corsAllowedOrigins: [
      storefront.outputs.url
    ]
    entraTenantId: empty(entraTenantId) ? tenant().tenantId : entraTenantId
    entraClientId: entraClientId
    entraIssuer: entraIssuer
    entraJwksUri: entraJwksUri
    otelExporterOtlpEndpoint: otelExporterOtlpEndpoint
    pgPoolMax: pgPoolMax
    workerProcessCount: workerProcessCount
    paymentDeclineAbove: paymentDeclineAbove
    paymentLatencyMs: paymentLatencyMs
    paymentProviderTimeoutMs: paymentProviderTimeoutMs
    paymentLeaseSeconds: paymentLeaseSeconds
    orderRedriveAfterSeconds: orderRedriveAfterSeconds
    orderCancelAfterSeconds: orderCancelAfterSeconds
    acsEmailEndpoint: communication.outputs.endpoint
    emailSender: communication.outputs.senderAddress
    catalogPublicRead: catalogPublicRead
    productImagesBlobEndpoint: images.outputs.blobEndpoint
    productImagesContainer: images.outputs.containerName
  }
}


// Platform logs and metrics of every resource to Log Analytics, once the resources exist.
module diagnostics 'modules/diagnostics.bicep' = {
  name: 'diagnostics'
  scope: rg
  params: {
    workspaceId: monitoring.outputs.workspaceId
    functionAppName: api.outputs.name
    planName: '${abbrs.webServerFarms}${resourceToken}'
    keyVaultName: keyVault.outputs.name
    storageAccountName: storage.outputs.name
    imagesStorageAccountName: images.outputs.name
    postgresServerName: postgres.outputs.name
    redisName: redis.outputs.name
    vnetName: network.outputs.vnetName
    brokerNsgName: network.outputs.brokerNsgName
    natPublicIpName: network.outputs.natPublicIpName
    communicationName: communication.outputs.name
    storefrontName: storefront.outputs.name
  }
}

module alerts 'modules/alerts.bicep' = {
  name: 'alerts'
  scope: rg
  params: {
    location: location
    tags: tags
    applicationInsightsId: monitoring.outputs.applicationInsightsId
    workspaceId: monitoring.outputs.workspaceId
    brokerMetricsTable: rabbitMq.outputs.metricsTable
    alertEmail: alertEmail
  }
}

output AZURE_LOCATION string = location
output AZURE_TENANT_ID string = tenant().tenantId
output AZURE_RESOURCE_GROUP string = rg.name
output AZURE_FUNCTION_APP_NAME string = api.outputs.name
output API_BASE_URL string = 'https://${api.outputs.defaultHostName}/api'
output WEB_BASE_URL string = storefront.outputs.url
output APPLICATIONINSIGHTS_NAME string = monitoring.outputs.applicationInsightsName
output AZURE_KEY_VAULT_NAME string = keyVault.outputs.name
output POSTGRES_HOST string = postgres.outputs.fullyQualifiedDomainName
output RABBITMQ_HOST string = rabbitMq.outputs.host
@description('Outbound address of the app and the broker VM (NAT gateway), for allow-lists of outside services.')
output OUTBOUND_IP_ADDRESS string = network.outputs.natPublicIpAddress
output ENTRA_CLIENT_ID string = entraClientId
output PRODUCT_IMAGES_STORAGE string = images.outputs.blobEndpoint
