// The function app: Linux, Node 22, Functions v4, on Elastic Premium (the RabbitMQ trigger runs on
// Premium and Dedicated plans only; Premium is the one that scales on queue depth).
// https://learn.microsoft.com/azure/azure-functions/functions-bindings-rabbitmq
//
// Identity: a user-assigned identity already granted Key Vault Secrets User and the host storage roles
// (identity.bicep, keyvault.bicep, storage.bicep) and named as keyVaultReferenceIdentity, so the first
// start resolves every Key Vault reference, the content share's included.
// Network: VNet integration with all outbound traffic, the content share's included, routed into the
// VNet, where the private endpoints of Postgres, Redis, Key Vault and Storage answer (the product images
// account, images.bicep, is public for reads and reached over the NAT gateway).
param name string
param planName string
param location string
param tags object

@allowed([
  'EP1'
  'EP2'
  'EP3'
])
param planSku string

@minValue(1)
@maxValue(20)
@description('Upper bound of instances the plan scales out to.')
param maximumElasticWorkerCount int

@allowed([
  '22'
])
param nodeVersion string

param identityId string
param identityClientId string
@description('The identity\'s principal, granted the restart of this site alone (the consumer watchdog).')
param identityPrincipalId string
param appSubnetId string
param storageAccountName string

@secure()
@description('The content share connection string (account key), set as the value itself; see hostSettings.')
param contentShareConnectionString string
param contentShareName string

@description('Postgres through PgBouncer, and past it (LISTEN, migrations): no password, the identity signs in.')
param postgresUrl string
param postgresDirectUrl string
@description('Redis, with the identity as its user: no password.')
param redisUrl string
param rabbitMqUrlSecretUri string
param applicationInsightsConnectionStringSecretUri string

@description('Browser origins allowed to call the API (the storefront).')
param corsAllowedOrigins array

@minLength(36)
@maxLength(36)
param entraTenantId string

@minLength(36)
@maxLength(36)
param entraClientId string

@description('Azure Communication Services endpoint whose Email service sends customer notifications.')
param acsEmailEndpoint string

@description('From address of customer notifications (of the Communication Services email domain).')
param emailSender string

param entraIssuer string
param entraJwksUri string
param otelExporterOtlpEndpoint string

@description('Postgres connections per worker process (PG_POOL_MAX).')
param pgPoolMax int

@description('Worker processes per instance (FUNCTIONS_WORKER_PROCESS_COUNT); part of the Postgres connection budget.')
param workerProcessCount int

param paymentDeclineAbove string
param paymentLatencyMs int
param paymentProviderTimeoutMs int
param paymentLeaseSeconds int
param orderRedriveAfterSeconds int
param orderCancelAfterSeconds int
param catalogPublicRead bool

@description('Blob endpoint of the product images account (images.bicep), reached with identityClientId.')
param productImagesBlobEndpoint string
param productImagesContainer string

@minValue(60)
@maxValue(3600)
@description('Consumer watchdog: seconds a trigger queue may have no consumer, the broker answering, before the app is restarted.')
param consumerWatchdogAfterSeconds int = 300

@minValue(300)
@maxValue(86400)
@description('Consumer watchdog: at most one restart per this many seconds.')
param consumerWatchdogRestartIntervalSeconds int = 900

resource plan 'Microsoft.Web/serverfarms@2024-11-01' = {
  name: planName
  location: location
  tags: tags
  kind: 'elastic'
  sku: {
    name: planSku
    tier: 'ElasticPremium'
  }
  properties: {
    reserved: true
    maximumElasticWorkerCount: maximumElasticWorkerCount
  }
}

// The host's own settings.
var hostSettings = {
  FUNCTIONS_EXTENSION_VERSION: '~4'
  FUNCTIONS_WORKER_RUNTIME: 'node'
  FUNCTIONS_WORKER_PROCESS_COUNT: string(workerProcessCount)
  // Identity-based host storage with the user-assigned identity: no account key for the host.
  // https://learn.microsoft.com/azure/azure-functions/functions-reference#connecting-to-host-storage-with-an-identity
  AzureWebJobsStorage__accountName: storageAccountName
  AzureWebJobsStorage__credential: 'managedidentity'
  AzureWebJobsStorage__clientId: identityClientId
  // The content share takes a connection string only. It is the value itself, not a Key Vault
  // reference: the platform mounts the share while it creates the site, and a reference to a vault
  // reachable only through its private endpoint may not resolve then, failing the first deploy.
  // https://learn.microsoft.com/azure/app-service/app-service-key-vault-references#considerations-for-azure-files-mounting
  WEBSITE_CONTENTAZUREFILECONNECTIONSTRING: contentShareConnectionString
  WEBSITE_CONTENTSHARE: contentShareName
  WEBSITE_SKIP_CONTENTSHARE_VALIDATION: '1'
  // The package is built before deployment (dist/ and production node_modules): no build on the app.
  SCM_DO_BUILD_DURING_DEPLOYMENT: 'false'
  // The host's own telemetry to an Application Insights resource with local authentication off.
  // https://learn.microsoft.com/azure/azure-functions/configure-monitoring#enable-microsoft-entra-authentication
  APPLICATIONINSIGHTS_AUTHENTICATION_STRING: 'ClientId=${identityClientId};Authorization=AAD'
}

// Every setting of src/config.ts (test/unit/infra.test.ts compares the compiled template with it).
var applicationSettings = {
  POSTGRES_URL: postgresUrl
  POSTGRES_DIRECT_URL: postgresDirectUrl
  REDIS_URL: redisUrl
  // Postgres, Redis and Azure Monitor take the identity's Entra token (AZURE_CLIENT_ID), not a password.
  DEPENDENCY_AUTH: 'managed-identity'
  RABBITMQ_URL: '@Microsoft.KeyVault(SecretUri=${rabbitMqUrlSecretUri})'
  APPLICATIONINSIGHTS_CONNECTION_STRING: '@Microsoft.KeyVault(SecretUri=${applicationInsightsConnectionStringSecretUri})'
  ENTRA_TENANT_ID: entraTenantId
  ENTRA_CLIENT_ID: entraClientId
  ENTRA_ISSUER: entraIssuer
  ENTRA_JWKS_URI: entraJwksUri
  OTEL_EXPORTER_OTLP_ENDPOINT: otelExporterOtlpEndpoint
  // The host's own exporter (OpenTelemetry .NET) defaults to gRPC; the endpoint is the app's, OTLP/HTTP.
  OTEL_EXPORTER_OTLP_PROTOCOL: 'http/protobuf'
  PG_POOL_MAX: string(pgPoolMax)
  PAYMENT_DECLINE_ABOVE: paymentDeclineAbove
  PAYMENT_LATENCY_MS: string(paymentLatencyMs)
  PAYMENT_PROVIDER_TIMEOUT_MS: string(paymentProviderTimeoutMs)
  PAYMENT_LEASE_SECONDS: string(paymentLeaseSeconds)
  ORDER_REDRIVE_AFTER_SECONDS: string(orderRedriveAfterSeconds)
  ORDER_CANCEL_AFTER_SECONDS: string(orderCancelAfterSeconds)
  ACS_EMAIL_ENDPOINT: acsEmailEndpoint
  EMAIL_SENDER: emailSender
  // Sent through ACS in Azure; the SMTP server is the local alternative.
  SMTP_URL: ''
  // The user-assigned identity ACS Email and the product images are reached as.
  AZURE_CLIENT_ID: identityClientId
  CATALOG_PUBLIC_READ: catalogPublicRead ? 'true' : 'false'
  PRODUCT_IMAGES_STORAGE: productImagesBlobEndpoint
  PRODUCT_IMAGES_CONTAINER: productImagesContainer
  // The consumer watchdog (functions/watchdog.ts, docs/deploy.md section 2) restarts this site through
  // Resource Manager, as the identity, when a trigger queue has had no consumer for the window.
  CONSUMER_WATCHDOG_SITE_ID: resourceId('Microsoft.Web/sites', name)
  CONSUMER_WATCHDOG_AFTER_SECONDS: string(consumerWatchdogAfterSeconds)
  CONSUMER_WATCHDOG_RESTART_INTERVAL_SECONDS: string(consumerWatchdogRestartIntervalSeconds)
  AZURE_RESOURCE_MANAGER_ENDPOINT: environment().resourceManager
}

resource site 'Microsoft.Web/sites@2024-11-01' = {
  name: name
  location: location
  tags: union(tags, {
    'azd-service-name': 'api'
  })
  kind: 'functionapp,linux'
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: {
      '${identityId}': {}
    }
  }
  properties: {
    serverFarmId: plan.id
    reserved: true
    httpsOnly: true
    keyVaultReferenceIdentity: identityId
    virtualNetworkSubnetId: appSubnetId
    outboundVnetRouting: {
      allTraffic: true
      contentShareTraffic: true
    }
    siteConfig: {
      // Linux apps pick the Node version here; WEBSITE_NODE_DEFAULT_VERSION is for Windows only.
      linuxFxVersion: 'Node|${nodeVersion}'
      // The RabbitMQ trigger reports queue length only to runtime scale monitoring; without it an
      // Elastic Premium app scales on HTTP traffic alone.
      // https://learn.microsoft.com/azure/azure-functions/functions-networking-options#premium-plan-with-virtual-network-triggers
      functionsRuntimeScaleMonitoringEnabled: true
      minimumElasticInstanceCount: 1
      healthCheckPath: '/api/health'
      cors: {
        allowedOrigins: corsAllowedOrigins
      }
      minTlsVersion: '1.2'
      scmMinTlsVersion: '1.2'
      ftpsState: 'Disabled'
      http20Enabled: true
      appSettings: map(items(union(hostSettings, applicationSettings)), setting => {
        name: setting.key
        value: setting.value
      })
    }
  }
}

// No basic (user name and password) authentication for deployments: SCM and FTP take Entra only.
// https://learn.microsoft.com/azure/app-service/configure-basic-auth-disable
resource scmBasicAuth 'Microsoft.Web/sites/basicPublishingCredentialsPolicies@2024-11-01' = {
  parent: site
  name: 'scm'
  properties: {
    allow: false
  }
}

resource ftpBasicAuth 'Microsoft.Web/sites/basicPublishingCredentialsPolicies@2024-11-01' = {
  parent: site
  name: 'ftp'
  properties: {
    allow: false
  }
}

// The watchdog's right to restart this site and nothing else: a custom role holding the one action
// (built-in roles that hold it, such as Website Contributor, also change settings and deployments),
// assigned on the site itself. https://learn.microsoft.com/azure/role-based-access-control/custom-roles-bicep
resource restartRole 'Microsoft.Authorization/roleDefinitions@2022-04-01' = {
  name: guid(resourceGroup().id, name, 'restart')
  properties: {
    roleName: 'Function App restart (${name})'
    description: 'Restart the Function App ${name} (its consumer watchdog).'
    type: 'CustomRole'
    permissions: [
      {
        actions: [
          'Microsoft.Web/sites/restart/action'
        ]
        notActions: []
      }
    ]
    assignableScopes: [
      resourceGroup().id
    ]
  }
}

resource restartAssignment 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  scope: site
  name: guid(site.id, identityPrincipalId, restartRole.id)
  properties: {
    roleDefinitionId: restartRole.id
    principalId: identityPrincipalId
    principalType: 'ServicePrincipal'
  }
}

output name string = site.name
output defaultHostName string = site.properties.defaultHostName
