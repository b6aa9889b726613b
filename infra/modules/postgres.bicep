// Azure Database for PostgreSQL Flexible Server with the app database `ecommerce`, reachable only through
// its private endpoint. The app connects through the built-in PgBouncer (port 6432), which caps the
// server connections the app can hold however far the function app scales out.
// https://learn.microsoft.com/azure/postgresql/flexible-server/concepts-pgbouncer
//
// PgBouncer runs in transaction mode: a server connection serves a client for one transaction, so the
// app's pools share few server connections. What needs a session takes the server's own port (5432,
// POSTGRES_DIRECT_URL): the LISTEN connection (catalog changes) and the migrations (a session advisory
// lock). The app sends no startup parameter PgBouncer would refuse (ignore_startup_parameters stays at
// Azure's default, empty) and no named prepared statement (max_prepared_statements stays 0); the local
// stack's PgBouncer is configured the same way (scripts/pgbouncer.sh). The budget (test/unit/infra.test.ts
// checks it on the compiled template):
//   PG_POOL_MAX x FUNCTIONS_WORKER_PROCESS_COUNT x maximumElasticWorkerCount <= pgbouncer.default_pool_size
//   pgbouncer.default_pool_size + 2 x FUNCTIONS_WORKER_PROCESS_COUNT x maximumElasticWorkerCount
//     + reservedConnections <= max_connections
// where the 2 per process bypass PgBouncer: the LISTEN client and the migration client.
param name string
param location string
param tags object
param administratorLogin string

@secure()
param administratorLoginPassword string

param endpointsSubnetId string

@description('The app identity, made the Entra administrator of the server: it signs in with an Entra token, runs the migrations and owns the tables.')
param appIdentityName string
param appPrincipalId string
param privateDnsZoneId string

@description('Database the app uses.')
param databaseName string = 'ecommerce'

// PgBouncer is offered on General Purpose and Memory Optimized only, not on Burstable.
@allowed([
  'Standard_D2ds_v5'
  'Standard_D4ds_v5'
])
param skuName string = 'Standard_D2ds_v5'
param version string = '16'

@description('Server connections PgBouncer may open for the app (pgbouncer.default_pool_size).')
param pgbouncerPoolSize int

// Below the memory-based default of the smallest SKU allowed above (859 on 2 vCores); set explicitly so
// the budget is checked against a number the template states. A static parameter: it applies at the
// server's next restart, and until then the higher default holds, so the budget holds either way.
var maxConnections = 400

@description('Connections kept free of the app pool: superuser (3), operators, npm run setup.')
var reservedConnections = 20

var serverParameters = [
  {
    name: 'require_secure_transport'
    value: 'on'
  }
  {
    name: 'max_connections'
    value: string(maxConnections)
  }
  {
    name: 'pgbouncer.enabled'
    value: 'true'
  }
  {
    name: 'pgbouncer.pool_mode'
    value: 'TRANSACTION'
  }
  {
    name: 'pgbouncer.default_pool_size'
    value: string(pgbouncerPoolSize)
  }
  {
    // A query PgBouncer cannot give a server connection (Postgres restarting; after a failed login it
    // waits server_login_retry, 15 s, before trying again) fails after 5 s instead of Azure's default
    // 120 s: without it the app's own 12 s query timeout ended it, so a request sent on an open
    // connection just as Postgres went down answered 503 only after 12 s (past a client's 10 s). The
    // budget above keeps every app connection a server connection, so no query waits for one otherwise.
    name: 'pgbouncer.query_wait_timeout'
    value: '5'
  }
]

resource server 'Microsoft.DBforPostgreSQL/flexibleServers@2024-08-01' = {
  name: name
  location: location
  tags: tags
  sku: {
    name: skuName
    tier: 'GeneralPurpose'
  }
  properties: {
    version: version
    administratorLogin: administratorLogin
    administratorLoginPassword: administratorLoginPassword
    // Entra for the app; the password login stays for an operator's break-glass access only (no app
    // setting holds it). https://learn.microsoft.com/azure/postgresql/flexible-server/concepts-azure-ad-authentication
    authConfig: {
      passwordAuth: 'Enabled'
      activeDirectoryAuth: 'Enabled'
      tenantId: tenant().tenantId
    }
    storage: {
      storageSizeGB: 32
    }
    backup: {
      backupRetentionDays: 7
      geoRedundantBackup: 'Disabled'
    }
    highAvailability: {
      mode: 'Disabled'
    }
    network: {
      publicNetworkAccess: 'Disabled'
    }
  }
}

resource database 'Microsoft.DBforPostgreSQL/flexibleServers/databases@2024-08-01' = {
  parent: server
  name: databaseName
  properties: {
    charset: 'UTF8'
    collation: 'en_US.utf8'
  }
}

// The server applies one change at a time.
@batchSize(1)
resource parameters 'Microsoft.DBforPostgreSQL/flexibleServers/configurations@2024-08-01' = [
  for parameter in serverParameters: {
    parent: server
    name: parameter.name
    properties: {
      value: parameter.value
      source: 'user-override'
    }
    dependsOn: [
      database
    ]
  }
]

module endpoint 'private-endpoint.bicep' = {
  name: '${name}-endpoint'
  params: {
    name: 'pe-${name}'
    location: location
    tags: tags
    subnetId: endpointsSubnetId
    serviceId: server.id
    groupId: 'postgresqlServer'
    privateDnsZoneId: privateDnsZoneId
  }
}

// The app's identity as an Entra administrator (member of azure_pg_admin), after the server parameters
// (the server applies one change at a time). Its role name is the identity's name; its password an
// Entra token (src/adapters/identity/entraToken.ts), which PgBouncer accepts too.
resource appAdministrator 'Microsoft.DBforPostgreSQL/flexibleServers/administrators@2024-08-01' = {
  parent: server
  name: appPrincipalId
  properties: {
    principalType: 'ServicePrincipal'
    principalName: appIdentityName
    tenantId: tenant().tenantId
  }
  dependsOn: [
    parameters
  ]
}

output name string = server.name
output fullyQualifiedDomainName string = server.properties.fullyQualifiedDomainName
// No password in either URL: the app signs in as its identity. LISTEN and the migrations' advisory
// lock need a session: the server's own port.
output url string = 'postgres://${uriComponent(appIdentityName)}@${server.properties.fullyQualifiedDomainName}:6432/${database.name}?sslmode=require'
output directUrl string = 'postgres://${uriComponent(appIdentityName)}@${server.properties.fullyQualifiedDomainName}:5432/${database.name}?sslmode=require'
output maxConnections int = maxConnections
output reservedConnections int = reservedConnections
