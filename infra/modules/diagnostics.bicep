// Diagnostic settings: every resource that emits platform logs or metrics sends them to the Log
// Analytics workspace, declared here against the resources by name after they exist, so no module
// needs the workspace (the workspace's module itself needs the vault). Application Insights already
// writes into the workspace (workspace-based); the static web app has no diagnostic settings.
// https://learn.microsoft.com/azure/azure-monitor/essentials/diagnostic-settings
param workspaceId string
param functionAppName string
param planName string
param keyVaultName string
param storageAccountName string
param imagesStorageAccountName string
param postgresServerName string
param redisName string

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
