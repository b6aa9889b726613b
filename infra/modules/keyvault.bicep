// Key Vault in RBAC mode: every secret the app reads is a Key Vault reference, resolved with the
// function app's system-assigned identity (role assigned in function-app.bicep).
// https://learn.microsoft.com/azure/app-service/app-service-key-vault-references
param name string
param location string
param tags object

@description('Optional principal (the deploying user) that may read secrets, for the postprovision hook.')
param readerPrincipalId string = ''

@allowed([
  'User'
  'ServicePrincipal'
])
param readerPrincipalType string = 'User'

var keyVaultSecretsUserRoleId = '4633458b-17de-408a-b874-0445c86b69e6'

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' = {
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
    publicNetworkAccess: 'Enabled'
  }
}

resource readerRole 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (!empty(readerPrincipalId)) {
  name: guid(vault.id, readerPrincipalId, keyVaultSecretsUserRoleId)
  scope: vault
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', keyVaultSecretsUserRoleId)
    principalId: readerPrincipalId
    principalType: readerPrincipalType
  }
}

output name string = vault.name
output uri string = vault.properties.vaultUri
