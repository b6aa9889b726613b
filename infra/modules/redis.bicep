// Azure Cache for Redis: TLS only (port 6380), non-TLS port disabled. The app gets
// REDIS_URL = rediss://:<access key>@<host>:6380 through Key Vault.
param name string
param location string
param tags object
param keyVaultName string

@allowed([
  'Basic'
  'Standard'
])
param skuName string = 'Basic'

@minValue(0)
@maxValue(6)
param capacity int = 0

resource cache 'Microsoft.Cache/redis@2024-03-01' = {
  name: name
  location: location
  tags: tags
  properties: {
    sku: {
      name: skuName
      family: 'C'
      capacity: capacity
    }
    enableNonSslPort: false
    minimumTlsVersion: '1.2'
    publicNetworkAccess: 'Enabled'
    redisVersion: '6'
  }
}

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' existing = {
  name: keyVaultName
}

resource urlSecret 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = {
  parent: vault
  name: 'redis-url'
  properties: {
    value: 'rediss://:${uriComponent(cache.listKeys().primaryKey)}@${cache.properties.hostName}:${cache.properties.sslPort}'
  }
}

output name string = cache.name
output urlSecretUri string = urlSecret.properties.secretUri
