// RabbitMQ for the app. Azure has no managed RabbitMQ, so by default this runs the official image in
// Azure Container Instances with its data directory on an Azure Files share. Container Instances rather
// than Container Apps: external TCP ingress on Container Apps needs a custom VNet
// (https://learn.microsoft.com/azure/container-apps/ingress-overview#tcp), ACI exposes a TCP port
// directly. When existingUrl is set, nothing is deployed and that URL is stored as the secret instead.
param name string
param location string
param tags object
param keyVaultName string
param storageAccountName string

@secure()
@description('AMQP URL of an existing broker; when set, no container is deployed.')
param existingUrl string = ''

param image string = 'rabbitmq:3-management'
param user string = 'shop'

@secure()
param password string

var deployBroker = empty(existingUrl)
var dataShareName = 'rabbitmq-data'

resource account 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: storageAccountName
}

resource fileService 'Microsoft.Storage/storageAccounts/fileServices@2023-05-01' existing = {
  parent: account
  name: 'default'
}

resource dataShare 'Microsoft.Storage/storageAccounts/fileServices/shares@2023-05-01' = if (deployBroker) {
  parent: fileService
  name: dataShareName
}

resource broker 'Microsoft.ContainerInstance/containerGroups@2023-05-01' = if (deployBroker) {
  name: name
  location: location
  tags: tags
  properties: {
    osType: 'Linux'
    sku: 'Standard'
    restartPolicy: 'Always'
    ipAddress: {
      type: 'Public'
      dnsNameLabel: name
      // AMQP only; the management UI (15672) stays private to the container.
      ports: [
        {
          port: 5672
          protocol: 'TCP'
        }
      ]
    }
    containers: [
      {
        name: 'rabbitmq'
        properties: {
          image: image
          ports: [
            {
              port: 5672
              protocol: 'TCP'
            }
          ]
          resources: {
            requests: {
              cpu: 1
              memoryInGB: 2
            }
          }
          environmentVariables: [
            {
              name: 'RABBITMQ_DEFAULT_USER'
              value: user
            }
            {
              name: 'RABBITMQ_DEFAULT_PASS'
              secureValue: password
            }
            {
              // The data directory is named after the node; a fixed name keeps it across restarts.
              name: 'RABBITMQ_NODENAME'
              value: 'rabbit@localhost'
            }
          ]
          // Only the database directory lives on the share: the Erlang cookie must keep mode 0600,
          // which an SMB mount can't provide.
          volumeMounts: [
            {
              name: 'data'
              mountPath: '/var/lib/rabbitmq/mnesia'
            }
          ]
        }
      }
    ]
    volumes: [
      {
        name: 'data'
        azureFile: {
          shareName: dataShareName
          storageAccountName: account.name
          storageAccountKey: account.listKeys().keys[0].value
        }
      }
    ]
  }
  dependsOn: [
    dataShare
  ]
}

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' existing = {
  name: keyVaultName
}

resource urlSecret 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = {
  parent: vault
  name: 'rabbitmq-url'
  properties: {
    value: deployBroker ? 'amqp://${uriComponent(user)}:${uriComponent(password)}@${broker.properties.ipAddress.fqdn}:5672' : existingUrl
  }
}

output host string = deployBroker ? broker.properties.ipAddress.fqdn : ''
output urlSecretUri string = urlSecret.properties.secretUri
