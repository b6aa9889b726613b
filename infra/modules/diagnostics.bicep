// Diagnostic settings: every resource that emits platform logs or metrics sends them to the Log
// Analytics workspace, declared here against the resources by name after they exist, so no module
// needs the workspace (the workspace's module itself needs the vault). Application Insights already
// writes into the workspace (workspace-based). Not here, because Azure exports nothing of theirs
// through diagnostic settings: the NAT gateway (below); the private endpoints (no log category, and
// their metrics PEBytesIn and PEBytesOut are DS Export: No,
// https://learn.microsoft.com/azure/azure-monitor/reference/supported-metrics/microsoft-network-privateendpoints-metrics);
// the private DNS zones (no log category, every metric DS Export: No,
// https://learn.microsoft.com/azure/azure-monitor/reference/supported-metrics/microsoft-network-privatednszones-metrics).
// Their metrics stay in Azure Monitor Metrics. The broker VM's guest data the Azure Monitor agent sends
// (rabbitmq-vm.bicep).
// https://learn.microsoft.com/azure/azure-monitor/essentials/diagnostic-settings
param workspaceId string
param functionAppName string
param planName string
param keyVaultName string
param storageAccountName string
param imagesStorageAccountName string
param postgresServerName string
param redisName string
param vnetName string
param brokerNsgName string
param natPublicIpName string
param communicationName string
param storefrontName string

// Every log category the resource has (where it has logs), and all its metrics.
var allLogsAndMetrics = {
  workspaceId: workspaceId
  logs: [
    {
      categoryGroup: 'allLogs'
      enabled: true
    }
  ]
  metrics: [
    {
      category: 'AllMetrics'
      enabled: true
    }
  ]
}
var logsOnly = {
  workspaceId: workspaceId
  logs: [
    {
      categoryGroup: 'allLogs'
      enabled: true
    }
  ]
}
var metricsOnly = {
  workspaceId: workspaceId
  metrics: [
    {
      category: 'AllMetrics'
      enabled: true
    }
  ]
}

resource site 'Microsoft.Web/sites@2024-11-01' existing = {
  name: functionAppName
}

resource plan 'Microsoft.Web/serverfarms@2024-11-01' existing = {
  name: planName
}

resource vault 'Microsoft.KeyVault/vaults@2024-11-01' existing = {
  name: keyVaultName
}

resource postgres 'Microsoft.DBforPostgreSQL/flexibleServers@2024-08-01' existing = {
  name: postgresServerName
}

resource redis 'Microsoft.Cache/redisEnterprise@2025-07-01' existing = {
  name: redisName
}

resource redisDatabase 'Microsoft.Cache/redisEnterprise/databases@2025-07-01' existing = {
  parent: redis
  name: 'default'
}

resource vnet 'Microsoft.Network/virtualNetworks@2024-05-01' existing = {
  name: vnetName
}

resource brokerNsg 'Microsoft.Network/networkSecurityGroups@2024-05-01' existing = {
  name: brokerNsgName
}

resource natPublicIp 'Microsoft.Network/publicIPAddresses@2024-05-01' existing = {
  name: natPublicIpName
}

resource communication 'Microsoft.Communication/communicationServices@2023-04-01' existing = {
  name: communicationName
}

resource storefront 'Microsoft.Web/staticSites@2024-11-01' existing = {
  name: storefrontName
}

resource siteDiagnostics 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  name: 'to-log-analytics'
  scope: site
  properties: allLogsAndMetrics
}

resource planDiagnostics 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  name: 'to-log-analytics'
  scope: plan
  properties: metricsOnly
}

resource vaultDiagnostics 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  name: 'to-log-analytics'
  scope: vault
  properties: allLogsAndMetrics
}

resource postgresDiagnostics 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  name: 'to-log-analytics'
  scope: postgres
  properties: allLogsAndMetrics
}

resource redisDiagnostics 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  name: 'to-log-analytics'
  scope: redis
  properties: metricsOnly
}

resource redisDatabaseDiagnostics 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  name: 'to-log-analytics'
  scope: redisDatabase
  properties: allLogsAndMetrics
}

// Network: the VNet's logs (VM protection alerts) and metrics; the broker NSG's events and rule
// counters (it has no metrics); the NAT gateway's public IP's DDoS logs and metrics. The NAT gateway
// itself gets none: its one log category, NatGatewayFlowlogsV1, exists for the StandardV2 SKU only
// (https://learn.microsoft.com/azure/nat-gateway/nat-gateway-flow-logs) and this one is Standard
// (network.bicep), and its metrics are DS Export: No
// (https://learn.microsoft.com/azure/azure-monitor/reference/supported-metrics/microsoft-network-natgateways-metrics);
// they stay in Azure Monitor Metrics.
resource vnetDiagnostics 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  name: 'to-log-analytics'
  scope: vnet
  properties: allLogsAndMetrics
}

resource brokerNsgDiagnostics 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  name: 'to-log-analytics'
  scope: brokerNsg
  properties: logsOnly
}

resource natPublicIpDiagnostics 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  name: 'to-log-analytics'
  scope: natPublicIp
  properties: allLogsAndMetrics
}

// Communication Services: the email send and delivery logs, and its metrics.
resource communicationDiagnostics 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  name: 'to-log-analytics'
  scope: communication
  properties: allLogsAndMetrics
}

// The storefront (Static Web Apps): its two log categories, StaticSiteHttpLogs and
// StaticSiteDiagnosticLogs, and its metrics (site and function hits and errors, bytes sent; DS Export: Yes).
// https://learn.microsoft.com/azure/azure-monitor/reference/supported-logs/microsoft-web-staticsites-logs
// https://learn.microsoft.com/azure/azure-monitor/reference/supported-metrics/microsoft-web-staticsites-metrics
resource storefrontDiagnostics 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  name: 'to-log-analytics'
  scope: storefront
  properties: allLogsAndMetrics
}

// Storage: metrics on the account, logs and metrics on each service.
module hostStorage 'storage-diagnostics.bicep' = {
  name: 'diagnostics-${storageAccountName}'
  params: {
    accountName: storageAccountName
    workspaceId: workspaceId
  }
}

module imagesStorage 'storage-diagnostics.bicep' = {
  name: 'diagnostics-${imagesStorageAccountName}'
  params: {
    accountName: imagesStorageAccountName
    workspaceId: workspaceId
  }
}
