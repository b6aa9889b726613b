// Azure Database for PostgreSQL Flexible Server with the app database `ecommerce`.
// Public access guarded by firewall rules (firewall.bicep) instead of VNet integration: it keeps the
// template small and lets `npm run setup` run from an operator's machine (see docs/deploy.md).
// TLS is enforced on the server (require_secure_transport) and requested by the client (sslmode=require).
param name string
param location string
param tags object
param administratorLogin string

@secure()
param administratorLoginPassword string

param keyVaultName string

@description('Database the app uses.')
param databaseName string = 'ecommerce'

param skuName string = 'Standard_B1ms'
param skuTier string = 'Burstable'
param version string = '16'

resource server 'Microsoft.DBforPostgreSQL/flexibleServers@2024-08-01' = {
  name: name
  location: location
  tags: tags
  sku: {
    name: skuName
    tier: skuTier
  }
  properties: {
    version: version
    administratorLogin: administratorLogin
    administratorLoginPassword: administratorLoginPassword
    authConfig: {
      passwordAuth: 'Enabled'
      activeDirectoryAuth: 'Disabled'
    }
    storage: {
      storageSizeGB: 32
    }
    backup: {
      backupRetentionDays: 7
      geoRedundantBackup: 'Disabled'
    }
    highAvailability: {
      mode: 'Disabled'
    }
    network: {
      publicNetworkAccess: 'Enabled'
    }
  }
}

resource database 'Microsoft.DBforPostgreSQL/flexibleServers/databases@2024-08-01' = {
  parent: server
  name: databaseName
  properties: {
    charset: 'UTF8'
    collation: 'en_US.utf8'
  }
}

// On by default on Flexible Server; pinned so nobody turns it off by accident.
// https://learn.microsoft.com/azure/postgresql/flexible-server/security-tls-how-to-connect
resource requireTls 'Microsoft.DBforPostgreSQL/flexibleServers/configurations@2024-08-01' = {
  parent: server
  name: 'require_secure_transport'
  properties: {
    value: 'on'
    source: 'user-override'
  }
  // The server accepts one change at a time.
  dependsOn: [
    database
  ]
}

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' existing = {
  name: keyVaultName
}

resource urlSecret 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = {
  parent: vault
  name: 'postgres-url'
  properties: {
    value: 'postgres://${uriComponent(administratorLogin)}:${uriComponent(administratorLoginPassword)}@${server.properties.fullyQualifiedDomainName}:5432/${database.name}?sslmode=require'
  }
}

output name string = server.name
output fullyQualifiedDomainName string = server.properties.fullyQualifiedDomainName
output urlSecretUri string = urlSecret.properties.secretUri
