// Host storage (AzureWebJobsStorage, identity-based) plus, where needed, Azure Files shares.
// Shared keys stay enabled only when something can't use an identity:
// - the Elastic Premium content share (Azure Files has no identity-based connection for it:
//   https://learn.microsoft.com/azure/azure-functions/storage-considerations#create-an-app-without-azure-files)
// - the Azure Files volume of the RabbitMQ container (Container Instances mounts it with the account key).
param name string
param location string
param tags object
param keyVaultName string

@description('Allow shared key (account key) access; see the header for when this is needed.')
param sharedKeyAccess bool

@description('Create the Elastic Premium content share and its connection-string secret.')
param createContentShare bool

@description('Name of the content share (WEBSITE_CONTENTSHARE).')
param contentShareName string

resource account 'Microsoft.Storage/storageAccounts@2023-05-01' = {
  name: name
  location: location
  tags: tags
  kind: 'StorageV2'
  sku: {
    name: 'Standard_LRS'
  }
  properties: {
    minimumTlsVersion: 'TLS1_2'
    supportsHttpsTrafficOnly: true
    allowBlobPublicAccess: false
    allowSharedKeyAccess: sharedKeyAccess
    defaultToOAuthAuthentication: true
  }
}

resource fileService 'Microsoft.Storage/storageAccounts/fileServices@2023-05-01' = {
  parent: account
  name: 'default'
}

// Created up front because WEBSITE_SKIP_CONTENTSHARE_VALIDATION=1 (needed for a Key Vault reference)
// makes the platform skip creating it:
// https://learn.microsoft.com/azure/app-service/app-service-key-vault-references#considerations-for-azure-files-mounting
resource contentShare 'Microsoft.Storage/storageAccounts/fileServices/shares@2023-05-01' = if (createContentShare) {
  parent: fileService
  name: contentShareName
}

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' existing = {
  name: keyVaultName
}

resource contentShareConnection 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = if (createContentShare) {
  parent: vault
  name: 'storage-content-share-connection-string'
  properties: {
    value: 'DefaultEndpointsProtocol=https;AccountName=${account.name};AccountKey=${account.listKeys().keys[0].value};EndpointSuffix=${environment().suffixes.storage}'
  }
}

output name string = account.name
output contentShareConnectionSecretUri string = createContentShare ? contentShareConnection.properties.secretUri : ''
