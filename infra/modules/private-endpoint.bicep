// One private endpoint for one sub-resource (groupId) of a service, registered in its private DNS zone
// so the service's usual host name resolves to the private address inside the VNet.
// https://learn.microsoft.com/azure/private-link/private-endpoint-dns
param name string
param location string
param tags object
param subnetId string
param serviceId string

@description('Sub-resource: postgresqlServer, redisEnterprise, vault, blob, queue, table or file.')
param groupId string

param privateDnsZoneId string

resource endpoint 'Microsoft.Network/privateEndpoints@2024-05-01' = {
  name: name
  location: location
  tags: tags
  properties: {
    subnet: {
      id: subnetId
    }
    privateLinkServiceConnections: [
      {
        name: name
        properties: {
          privateLinkServiceId: serviceId
          groupIds: [
            groupId
          ]
        }
      }
    ]
  }
}

resource zoneGroup 'Microsoft.Network/privateEndpoints/privateDnsZoneGroups@2024-05-01' = {
  parent: endpoint
  name: 'default'
  properties: {
    privateDnsZoneConfigs: [
      {
        name: groupId
        properties: {
          privateDnsZoneId: privateDnsZoneId
        }
      }
    ]
  }
}
