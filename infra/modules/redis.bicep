// Azure Managed Redis (Microsoft.Cache/redisEnterprise), reachable only through its private endpoint,
// TLS only. It holds the carts: eviction is off (NoEviction), so a full cache refuses writes instead of
// dropping a cart, and AOF persistence keeps the carts across a restart or patching. Idempotency records
// live in Postgres, not here (docs/deploy.md).
// https://learn.microsoft.com/azure/redis/overview
param name string
param location string
param tags object
param endpointsSubnetId string

@description('The app identity: it signs in with an Entra token, as the user named by its object id.')
param appPrincipalId string
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
    // Entra only: no access key exists for anyone to leak. https://learn.microsoft.com/azure/redis/entra-for-authentication
    accessKeysAuthentication: 'Disabled'
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

// The app's identity gets the default data access policy (every command on every key).
resource appAccess 'Microsoft.Cache/redisEnterprise/databases/accessPolicyAssignments@2025-07-01' = {
  parent: database
  name: 'app'
  properties: {
    accessPolicyName: 'default'
    user: {
      objectId: appPrincipalId
    }
  }
}

output name string = cluster.name
// The user is the identity's object id; the password, an Entra token (src/adapters/redis/client.ts).
output url string = 'rediss://${appPrincipalId}@${cluster.properties.hostName}:${database.properties.port}'
