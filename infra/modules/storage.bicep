// Host storage: AzureWebJobsStorage through the app's identity, and the Elastic Premium content share.
// Public network access is off; blob, queue, table and file are reached through private endpoints and the
// content share is mounted over the VNet (outboundVnetRouting.contentShareTraffic in function-app.bicep).
// https://learn.microsoft.com/azure/azure-functions/configure-networking-how-to#restrict-your-storage-account-to-a-virtual-network
param name string
param location string
param tags object
param endpointsSubnetId string

@description('Private DNS zone ids by service: blob, queue, table, file.')
param privateDnsZoneIds object

@description('Principal id of the function app identity: gets the host storage roles.')
param appPrincipalId string

@description('Name of the content share (WEBSITE_CONTENTSHARE).')
param contentShareName string

// Blob Data Owner is the host's minimum; Queue and Table per
// https://learn.microsoft.com/azure/azure-functions/functions-reference#connecting-to-host-storage-with-an-identity
var storageRoleIds = [
  'b7e6dc6d-f1e8-4753-8033-0f276bb0955b' // Storage Blob Data Owner
  '974c5e8b-45b9-4653-ba55-5f855dd0fb88' // Storage Queue Data Contributor
  '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3' // Storage Table Data Contributor
]
var endpointServices = [
  'blob'
  'queue'
  'table'
  'file'
]

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
    allowBlobPublicAccess: false
    // The content share takes only a connection string: Azure Files has no identity-based option for it.
    // https://learn.microsoft.com/azure/azure-functions/storage-considerations#create-an-app-without-azure-files
    allowSharedKeyAccess: true
    defaultToOAuthAuthentication: true
    publicNetworkAccess: 'Disabled'
    networkAcls: {
      defaultAction: 'Deny'
      bypass: 'None'
    }
  }
}

resource fileService 'Microsoft.Storage/storageAccounts/fileServices@2024-01-01' = {
  parent: account
  name: 'default'
}

// Created up front because WEBSITE_SKIP_CONTENTSHARE_VALIDATION=1 (needed for a Key Vault reference)
// makes the platform skip creating it:
// https://learn.microsoft.com/azure/app-service/app-service-key-vault-references#considerations-for-azure-files-mounting
resource contentShare 'Microsoft.Storage/storageAccounts/fileServices/shares@2024-01-01' = {
  parent: fileService
  name: contentShareName
}

module endpoints 'private-endpoint.bicep' = [
  for service in endpointServices: {
    name: '${name}-${service}-endpoint'
    params: {
      name: 'pe-${name}-${service}'
      location: location
      tags: tags
      subnetId: endpointsSubnetId
      serviceId: account.id
      groupId: service
      privateDnsZoneId: privateDnsZoneIds[service]
    }
  }
]

resource appRoles 'Microsoft.Authorization/roleAssignments@2022-04-01' = [
  for roleId in storageRoleIds: {
    name: guid(account.id, appPrincipalId, roleId)
    scope: account
    properties: {
      roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleId)
      principalId: appPrincipalId
      principalType: 'ServicePrincipal'
    }
  }
]

output name string = account.name
output contentShareName string = contentShare.name
