// RABBITMQ_URL for the app: either an existing broker's URL (existingUrl, e.g. a managed RabbitMQ
// service), or a broker deployed here on a VM in the VNet (rabbitmq-vm.bicep): amqps only, its data on
// a managed disk, no public endpoint. docs/deploy.md argues the choice against RabbitMQ's production
// checklist.
param location string
param tags object
param keyVaultName string
param namePrefix string

@secure()
@description('AMQP(S) URL of an existing broker; when set, no broker is deployed.')
param existingUrl string = ''

@description('Broker VM only: fully qualified host name its TLS certificate is issued for.')
param hostName string = ''

@description('Broker VM only: Key Vault secret URI (https://<vault>.vault.azure.net/secrets/<name>) of that certificate.')
param certificateSecretUri string = ''

@description('Broker VM only: resource id of the vault holding the certificate (its identity is granted read access).')
param certificateVaultId string = ''

@description('Broker VM only: SSH public key of its admin user.')
param adminSshPublicKey string = ''

param user string = 'shop'

@secure()
param password string

param vnetName string
@description('Log Analytics workspace for the broker VM\'s metrics and logs.')
param workspaceId string
param brokerSubnetId string
param brokerSubnetPrefix string

var deployBroker = empty(existingUrl)

module broker 'rabbitmq-vm.bicep' = if (deployBroker) {
  name: 'rabbitmq-vm'
  params: {
    namePrefix: namePrefix
    location: location
    tags: tags
    hostName: hostName
    certificateSecretUri: certificateSecretUri
    certificateVaultId: certificateVaultId
    adminSshPublicKey: adminSshPublicKey
    user: user
    passwordSecretName: passwordSecret.name
    keyVaultName: keyVaultName
    vnetName: vnetName
    workspaceId: workspaceId
    subnetId: brokerSubnetId
    subnetPrefix: brokerSubnetPrefix
  }
}

resource vault 'Microsoft.KeyVault/vaults@2024-11-01' existing = {
  name: keyVaultName
}

// The broker VM reads its user's password from here at first boot, so it is in no VM property.
resource passwordSecret 'Microsoft.KeyVault/vaults/secrets@2024-11-01' = {
  parent: vault
  name: 'rabbitmq-password'
  properties: {
    value: password
  }
}

resource urlSecret 'Microsoft.KeyVault/vaults/secrets@2024-11-01' = {
  parent: vault
  name: 'rabbitmq-url'
  properties: {
    value: deployBroker ? 'amqps://${uriComponent(user)}:${uriComponent(password)}@${hostName}:5671' : existingUrl
  }
}

output host string = deployBroker ? hostName : ''
output urlSecretUri string = urlSecret.properties.secretUri
@description('Log Analytics table of the broker VM\'s metrics; empty with an existing broker (not monitored here).')
output metricsTable string = deployBroker ? broker!.outputs.metricsTable : ''
