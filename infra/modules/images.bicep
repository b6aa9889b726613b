// Product images: a storage account of their own whose one container serves its blobs to anyone (the
// storefront shows them by URL, with no token), and whose only writer is the app's identity.
// - Anonymous read is per blob (publicAccess 'Blob'): a blob is readable by its URL, the container
//   cannot be listed. https://learn.microsoft.com/azure/storage/blobs/anonymous-read-access-configure
// - Shared keys are off, so no account key or SAS can write; the data-plane role below is the one way in.
// - Public network access is on: browsers fetch the images over the internet. This account holds
//   nothing but the published images, which is why it is apart from the private host storage
//   (storage.bicep). A CDN (Front Door) could front it without changing the app but for the URLs.
param name string
param location string
param tags object

@description('Principal id of the function app identity: the only writer of the images.')
param appPrincipalId string

param containerName string

// Storage Blob Data Contributor: read, write and delete blobs; no role management.
var blobDataContributorRoleId = 'ba92f5b4-2d11-453d-a57c-3bae3ef82a8b'

resource account 'Microsoft.Storage/storageAccounts@2024-01-01' = {
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
    allowBlobPublicAccess: true
    allowSharedKeyAccess: false
    defaultToOAuthAuthentication: true
    publicNetworkAccess: 'Enabled'
  }
}

resource blobService 'Microsoft.Storage/storageAccounts/blobServices@2024-01-01' = {
  parent: account
  name: 'default'
}

resource container 'Microsoft.Storage/storageAccounts/blobServices/containers@2024-01-01' = {
  parent: blobService
  name: containerName
  properties: {
    publicAccess: 'Blob'
  }
}

resource appWrites 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(container.id, appPrincipalId, blobDataContributorRoleId)
  scope: container
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', blobDataContributorRoleId)
    principalId: appPrincipalId
    principalType: 'ServicePrincipal'
  }
}

output name string = account.name
output blobEndpoint string = account.properties.primaryEndpoints.blob
output containerName string = container.name
