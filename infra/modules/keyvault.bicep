// Key Vault in RBAC mode holding every secret setting; reachable only through its private endpoint.
// Secrets are written by the modules that own them through ARM (control plane), which a vault with
// public access off still accepts; the app reads them through Key Vault references with its
// user-assigned identity, granted here before the app exists.
// https://learn.microsoft.com/azure/app-service/app-service-key-vault-references
//
// Soft delete keeps a deleted vault's name for softDeleteRetentionInDays; purge protection stays off so
// `azd down --purge` can purge it and the next `azd up` can reuse the name (docs/deploy.md).
param name string
param location string
param tags object
param endpointsSubnetId string
param privateDnsZoneId string

@description('Principal id of the function app identity: gets Key Vault Secrets User.')
param appPrincipalId string

var keyVaultSecretsUserRoleId = '4633458b-17de-408a-b874-0445c86b69e6'

resource vault 'Microsoft.KeyVault/vaults@2024-11-01' = {
  name: name
  location: location
  tags: tags
  properties: {
    tenantId: tenant().tenantId
    sku: {
      family: 'A'
      name: 'standard'
    }
    enableRbacAuthorization: true
    enableSoftDelete: true
    softDeleteRetentionInDays: 7
    enablePurgeProtection: null
    publicNetworkAccess: 'Disabled'
    networkAcls: {
      defaultAction: 'Deny'
      bypass: 'None'
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
    serviceId: vault.id
    groupId: 'vault'
    privateDnsZoneId: privateDnsZoneId
  }
}

resource appSecretsUser 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(vault.id, appPrincipalId, keyVaultSecretsUserRoleId)
  scope: vault
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', keyVaultSecretsUserRoleId)
    principalId: appPrincipalId
    principalType: 'ServicePrincipal'
  }
}

output name string = vault.name
output uri string = vault.properties.vaultUri
