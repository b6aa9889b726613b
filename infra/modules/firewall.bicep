// Network rules of the data services: only the function app's possible outbound IPs (plus, optionally,
// the operator's IP for `npm run setup`) may connect. Never the whole internet.
// A separate module because the loop runs over a value known only once the function app exists.
// Postgres: https://learn.microsoft.com/azure/postgresql/flexible-server/concepts-firewall-rules
param postgresServerName string
param redisName string

@description('Comma-separated list, as in Microsoft.Web/sites possibleOutboundIpAddresses.')
param appOutboundIpAddresses string

@description('Operator IP for `npm run setup`; empty: none.')
param clientIpAddress string = ''

@description('Add the documented "allow Azure services" rule (0.0.0.0 to 0.0.0.0) on Postgres.')
param allowAzureServices bool = false

var appIps = union(split(appOutboundIpAddresses, ','), [])

resource postgres 'Microsoft.DBforPostgreSQL/flexibleServers@2024-08-01' existing = {
  name: postgresServerName
}

resource cache 'Microsoft.Cache/redis@2024-03-01' existing = {
  name: redisName
}

// The server applies one firewall change at a time.
@batchSize(1)
resource postgresAppRules 'Microsoft.DBforPostgreSQL/flexibleServers/firewallRules@2024-08-01' = [
  for (ip, i) in appIps: {
    parent: postgres
    name: 'function-app-${i}'
    properties: {
      startIpAddress: trim(ip)
      endIpAddress: trim(ip)
    }
  }
]

resource postgresClientRule 'Microsoft.DBforPostgreSQL/flexibleServers/firewallRules@2024-08-01' = if (!empty(clientIpAddress)) {
  parent: postgres
  name: 'operator'
  properties: {
    startIpAddress: clientIpAddress
    endIpAddress: clientIpAddress
  }
  dependsOn: [
    postgresAppRules
  ]
}

// 0.0.0.0-0.0.0.0 means "any Azure service", not the internet (documented special case).
resource postgresAzureServicesRule 'Microsoft.DBforPostgreSQL/flexibleServers/firewallRules@2024-08-01' = if (allowAzureServices) {
  parent: postgres
  name: 'AllowAllAzureServicesAndResourcesWithinAzureIps'
  properties: {
    startIpAddress: '0.0.0.0'
    endIpAddress: '0.0.0.0'
  }
  dependsOn: [
    postgresClientRule
  ]
}

@batchSize(1)
resource redisAppRules 'Microsoft.Cache/redis/firewallRules@2024-03-01' = [
  for (ip, i) in appIps: {
    parent: cache
    name: 'functionapp${i}'
    properties: {
      startIP: trim(ip)
      endIP: trim(ip)
    }
  }
]
