// Azure Managed Redis (Microsoft.Cache/redisEnterprise), reachable only through its private endpoint,
// TLS only. It holds the carts: eviction is off (NoEviction), so a full cache refuses writes instead of
// dropping a cart, and AOF persistence keeps the carts across a restart or patching. Idempotency records
// live in Postgres, not here (docs/deploy.md).
// https://learn.microsoft.com/azure/redis/overview
param name string
param location string
param tags object
param keyVaultName string
param endpointsSubnetId string
param privateDnsZoneId string

@description('Azure Managed Redis SKU; Balanced_B0 is the smallest (0.5 GB).')
@allowed([
  'Balanced_B0'
  'Balanced_B1'
  'Balanced_B3'
  'Balanced_B5'
])
param skuName string = 'Balanced_B0'

resource cluster 'Microsoft.Cache/redisEnterprise@2025-07-01' = {
  name: name
  location: location
  tags: tags
  sku: {
    name: skuName
  }
  properties: {
    minimumTlsVersion: '1.2'
    publicNetworkAccess: 'Disabled'
  }
}

resource database 'Microsoft.Cache/redisEnterprise/databases@2025-07-01' = {
  parent: cluster
  name: 'default'
  properties: {
    clientProtocol: 'Encrypted'
    port: 10000
    // One endpoint that proxies every key, so a client that is not cluster-aware (ioredis' Redis) works.
    clusteringPolicy: 'EnterpriseCluster'
    evictionPolicy: 'NoEviction'
    accessKeysAuthentication: 'Enabled'
    persistence: {
      aofEnabled: true
      aofFrequency: '1s'
    }
  }
}

module endpoint 'private-endpoint.bicep' = {
  name: '${name}-endpoint'
  params: {
    name: 'pe-${name}'
    location: location
    tags: tags
    subnetId: endpointsSubnetId
    serviceId: cluster.id
    groupId: 'redisEnterprise'
    privateDnsZoneId: privateDnsZoneId
  }
}

resource vault 'Microsoft.KeyVault/vaults@2024-11-01' existing = {
  name: keyVaultName
}

resource urlSecret 'Microsoft.KeyVault/vaults/secrets@2024-11-01' = {
  parent: vault
  name: 'redis-url'
  properties: {
    value: 'rediss://:${uriComponent(database.listKeys().primaryKey)}@${cluster.properties.hostName}:${database.properties.port}'
  }
}

output name string = cluster.name
output urlSecretUri string = urlSecret.properties.secretUri
