// The private network everything talks over: the function app joins `app` (VNet integration), every
// data service is reached through a private endpoint in `endpoints`, the broker VM sits in `broker`.
// Outbound internet (Entra signing keys, the broker's apt mirror) leaves through one NAT gateway:
// new subnets get no default outbound access.
// https://learn.microsoft.com/azure/azure-functions/functions-networking-options#virtual-network-integration
param namePrefix string
param location string
param tags object

@description('Address space of the VNet; the three /24 subnets are carved from its first /16.')
param addressPrefix string = '10.40.0.0/16'

@description('Private DNS zones of the private endpoints, by service; each is linked to the VNet.')
var privateDnsZoneNames = {
  postgres: 'privatelink.postgres.database.azure.com'
  redis: 'privatelink.redis.azure.net'
  vault: 'privatelink.vaultcore.azure.net'
  blob: 'privatelink.blob.${environment().suffixes.storage}'
  queue: 'privatelink.queue.${environment().suffixes.storage}'
  table: 'privatelink.table.${environment().suffixes.storage}'
  file: 'privatelink.file.${environment().suffixes.storage}'
}

resource natIp 'Microsoft.Network/publicIPAddresses@2024-05-01' = {
  name: 'pip-nat-${namePrefix}'
  location: location
  tags: tags
  sku: {
    name: 'Standard'
  }
  properties: {
    publicIPAllocationMethod: 'Static'
  }
}

resource nat 'Microsoft.Network/natGateways@2024-05-01' = {
  name: 'ng-${namePrefix}'
  location: location
  tags: tags
  sku: {
    name: 'Standard'
  }
  properties: {
    publicIpAddresses: [
      {
        id: natIp.id
      }
    ]
  }
}

// The broker accepts AMQPS from the app subnet only; nothing else reaches it (no public IP either).
resource brokerNsg 'Microsoft.Network/networkSecurityGroups@2024-05-01' = {
  name: 'nsg-broker-${namePrefix}'
  location: location
  tags: tags
  properties: {
    securityRules: [
      {
        name: 'amqps-from-app'
        properties: {
          priority: 100
          direction: 'Inbound'
          access: 'Allow'
          protocol: 'Tcp'
          sourceAddressPrefix: cidrSubnet(addressPrefix, 24, 0)
          sourcePortRange: '*'
          destinationAddressPrefix: '*'
          destinationPortRange: '5671'
        }
      }
      {
        name: 'deny-other-vnet-inbound'
        properties: {
          priority: 4000
          direction: 'Inbound'
          access: 'Deny'
          protocol: '*'
          sourceAddressPrefix: 'VirtualNetwork'
          sourcePortRange: '*'
          destinationAddressPrefix: '*'
          destinationPortRange: '*'
        }
      }
    ]
  }
}

resource vnet 'Microsoft.Network/virtualNetworks@2024-05-01' = {
  name: 'vnet-${namePrefix}'
  location: location
  tags: tags
  properties: {
    addressSpace: {
      addressPrefixes: [
        addressPrefix
      ]
    }
    subnets: [
      {
        name: 'app'
        properties: {
          addressPrefix: cidrSubnet(addressPrefix, 24, 0)
          defaultOutboundAccess: false
          natGateway: {
            id: nat.id
          }
          delegations: [
            {
              name: 'functions'
              properties: {
                serviceName: 'Microsoft.Web/serverFarms'
              }
            }
          ]
        }
      }
      {
        name: 'endpoints'
        properties: {
          addressPrefix: cidrSubnet(addressPrefix, 24, 1)
          defaultOutboundAccess: false
        }
      }
      {
        name: 'broker'
        properties: {
          addressPrefix: cidrSubnet(addressPrefix, 24, 2)
          defaultOutboundAccess: false
          natGateway: {
            id: nat.id
          }
          networkSecurityGroup: {
            id: brokerNsg.id
          }
        }
      }
    ]
  }
}

resource zones 'Microsoft.Network/privateDnsZones@2024-06-01' = [
  for zone in items(privateDnsZoneNames): {
    name: zone.value
    location: 'global'
    tags: tags
  }
]

resource zoneLinks 'Microsoft.Network/privateDnsZones/virtualNetworkLinks@2024-06-01' = [
  for (zone, i) in items(privateDnsZoneNames): {
    parent: zones[i]
    name: vnet.name
    location: 'global'
    tags: tags
    properties: {
      registrationEnabled: false
      virtualNetwork: {
        id: vnet.id
      }
    }
  }
]

output vnetName string = vnet.name
output brokerNsgName string = brokerNsg.name
output natPublicIpName string = natIp.name
output appSubnetId string = vnet.properties.subnets[0].id
output endpointsSubnetId string = vnet.properties.subnets[1].id
output brokerSubnetId string = vnet.properties.subnets[2].id
output brokerSubnetPrefix string = cidrSubnet(addressPrefix, 24, 2)
@description('Resource id of each private DNS zone, by the keys of privateDnsZoneNames.')
output dnsZoneIds object = toObject(items(privateDnsZoneNames), zone => zone.key, zone => resourceId('Microsoft.Network/privateDnsZones', zone.value))
output natPublicIpAddress string = natIp.properties.ipAddress
