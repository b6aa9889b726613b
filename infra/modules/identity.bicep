// The function app's user-assigned identity. It exists, and is granted its roles (Key Vault Secrets
// User, host storage), before the app is created, so the app's first start can already resolve its Key
// Vault references (keyVaultReferenceIdentity) and reach host storage: no AccessToKeyVaultDenied on a
// first deploy, as with a system identity granted in the same deployment.
// https://learn.microsoft.com/azure/app-service/app-service-key-vault-references#access-vaults-with-a-user-assigned-identity
param name string
param location string
param tags object

resource identity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: name
  location: location
  tags: tags
}

output id string = identity.id
output name string = identity.name
output principalId string = identity.properties.principalId
output clientId string = identity.properties.clientId
