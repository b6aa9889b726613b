// RabbitMQ on one Ubuntu VM in the broker subnet: no public IP, AMQPS (5671) only, reachable from the
// app subnet alone (network.bicep's NSG). Its data directory is a Premium SSD managed disk (block storage,
// not a network file share), formatted and mounted by cloud-init before RabbitMQ is installed from the
// Ubuntu packages. The TLS certificate comes from Key Vault through the Key Vault VM extension, which
// also picks up renewals; a private DNS zone maps hostName to the VM inside the VNet so the certificate's
// name matches what the app dials.
param namePrefix string
param location string
param tags object

@minLength(4)
@description('Fully qualified host name the TLS certificate is issued for, e.g. rabbitmq.shop.example.com.')
param hostName string

@minLength(1)
@description('Key Vault secret URI of that certificate (with its private key).')
param certificateSecretUri string

@minLength(1)
@description('Resource id of the vault holding the certificate.')
param certificateVaultId string

@description('Admin user of the VM (SSH key only).')
param adminUsername string = 'rabbitadmin'

param user string
param passwordSecretName string
param keyVaultName string
param vnetName string
param subnetId string
param subnetPrefix string

@description('RabbitMQ needs memory above all; 2 vCPU / 8 GiB holds the shop\'s queues with room for bursts.')
param vmSize string = 'Standard_D2as_v5'

@description('Data disk for /var/lib/rabbitmq. The free-disk limit is 1.5 x RAM (12 GiB on 8 GiB), so keep it well above that.')
param dataDiskSizeGB int = 64

@minLength(1)
@description('SSH public key of the VM admin user; password login is off. Day-to-day operations go through Run Command.')
param adminSshPublicKey string

@description('Log Analytics workspace that receives the broker\'s metrics (RabbitMQMetrics_CL), syslog and guest performance counters.')
param workspaceId string

// Azure keeps the first four addresses of a subnet; the broker takes the next one.
var privateIpAddress = cidrHost(subnetPrefix, 3)
var certificateVaultName = last(split(certificateVaultId, '/'))
var certificateVaultSubscription = split(certificateVaultId, '/')[2]
var certificateVaultResourceGroup = split(certificateVaultId, '/')[4]
// Where the Key Vault extension writes the certificate: <vault>.<certificate> (PEM, key and chain).
var certificateStore = '/var/lib/waagent/Microsoft.Azure.KeyVault.Store'
var certificateFile = '${certificateStore}/${certificateVaultName}.${last(split(certificateSecretUri, '/'))}'

resource identity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: 'id-rabbitmq-${namePrefix}'
  location: location
  tags: tags
}

resource vault 'Microsoft.KeyVault/vaults@2024-11-01' existing = {
  name: keyVaultName
}

module passwordReader 'vault-secrets-reader.bicep' = {
  name: 'rabbitmq-password-reader'
  params: {
    vaultName: vault.name
    principalId: identity.properties.principalId
  }
}

module certificateReader 'vault-secrets-reader.bicep' = {
  name: 'rabbitmq-certificate-reader'
  scope: resourceGroup(certificateVaultSubscription, certificateVaultResourceGroup)
  params: {
    vaultName: certificateVaultName
    principalId: identity.properties.principalId
  }
}

resource nic 'Microsoft.Network/networkInterfaces@2024-05-01' = {
  name: 'nic-rabbitmq-${namePrefix}'
  location: location
  tags: tags
  properties: {
    ipConfigurations: [
      {
        name: 'ipconfig'
        properties: {
          subnet: {
            id: subnetId
          }
          privateIPAllocationMethod: 'Static'
          privateIPAddress: privateIpAddress
        }
      }
    ]
  }
}

var cloudInit = replace(
  replace(
    replace(
      replace(loadTextContent('rabbitmq-cloud-init.yaml'), '{{certificateFile}}', certificateFile),
      '{{user}}',
      user
    ),
    '{{passwordSecretUri}}',
    '${vault.properties.vaultUri}secrets/${passwordSecretName}'
  ),
  '{{identityClientId}}',
  identity.properties.clientId
)

resource vm 'Microsoft.Compute/virtualMachines@2024-07-01' = {
  name: 'vm-rabbitmq-${namePrefix}'
  location: location
  tags: tags
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: {
      '${identity.id}': {}
    }
  }
  properties: {
    hardwareProfile: {
      vmSize: vmSize
    }
    storageProfile: {
      imageReference: {
        publisher: 'Canonical'
        offer: 'ubuntu-24_04-lts'
        sku: 'server'
        version: 'latest'
      }
      osDisk: {
        createOption: 'FromImage'
        managedDisk: {
          storageAccountType: 'Premium_LRS'
        }
        deleteOption: 'Delete'
      }
      dataDisks: [
        {
          lun: 0
          createOption: 'Empty'
          diskSizeGB: dataDiskSizeGB
          managedDisk: {
            storageAccountType: 'Premium_LRS'
          }
          // Queues outlive the VM: recreating it (a new image, a new size) can attach the same disk.
          deleteOption: 'Detach'
        }
      ]
    }
    osProfile: {
      computerName: 'rabbitmq'
      adminUsername: adminUsername
      customData: base64(cloudInit)
      linuxConfiguration: {
        disablePasswordAuthentication: true
        ssh: {
          publicKeys: [
            {
              path: '/home/${adminUsername}/.ssh/authorized_keys'
              keyData: adminSshPublicKey
            }
          ]
        }
        patchSettings: {
          patchMode: 'AutomaticByPlatform'
          assessmentMode: 'AutomaticByPlatform'
        }
      }
    }
    networkProfile: {
      networkInterfaces: [
        {
          id: nic.id
        }
      ]
    }
    securityProfile: {
      securityType: 'TrustedLaunch'
      uefiSettings: {
        secureBootEnabled: true
        vTpmEnabled: true
      }
    }
  }
  dependsOn: [
    passwordReader
    certificateReader
  ]
}

// https://learn.microsoft.com/azure/virtual-machines/extensions/key-vault-linux
resource certificateSync 'Microsoft.Compute/virtualMachines/extensions@2024-07-01' = {
  parent: vm
  name: 'KeyVaultForLinux'
  location: location
  tags: tags
  properties: {
    publisher: 'Microsoft.Azure.KeyVault'
    type: 'KeyVaultForLinux'
    typeHandlerVersion: '2.0'
    autoUpgradeMinorVersion: true
    enableAutomaticUpgrade: true
    settings: {
      secretsManagementSettings: {
        pollingIntervalInS: '3600'
        certificateStoreLocation: certificateStore
        observedCertificates: [
          certificateSecretUri
        ]
      }
      authenticationSettings: {
        msiEndpoint: 'http://169.254.169.254/metadata/identity/oauth2/token'
        msiClientId: identity.properties.clientId
      }
    }
  }
}

// Monitoring: the Azure Monitor agent (signed in with the VM's identity) collects what the data
// collection rule names: the broker's Prometheus samples as rabbitmq-metrics-export writes them (a
// custom text log into RabbitMQMetrics_CL), syslog and guest performance counters.
// https://learn.microsoft.com/azure/azure-monitor/agents/azure-monitor-agent-manage
// https://learn.microsoft.com/azure/azure-monitor/agents/data-collection-log-text
resource monitorAgent 'Microsoft.Compute/virtualMachines/extensions@2024-07-01' = {
  parent: vm
  name: 'AzureMonitorLinuxAgent'
  location: location
  tags: tags
  properties: {
    publisher: 'Microsoft.Azure.Monitor'
    type: 'AzureMonitorLinuxAgent'
    typeHandlerVersion: '1.0'
    autoUpgradeMinorVersion: true
    enableAutomaticUpgrade: true
    settings: {
      authentication: {
        managedIdentity: {
          'identifier-name': 'mi_res_id'
          'identifier-value': identity.id
        }
      }
    }
  }
}

var workspaceName = last(split(workspaceId, '/'))
var metricsTable = 'RabbitMQMetrics_CL'

resource workspace 'Microsoft.OperationalInsights/workspaces@2023-09-01' existing = {
  name: workspaceName
}

// One row per sample: the series (name and labels, as Prometheus writes it) and its value.
resource brokerMetricsTable 'Microsoft.OperationalInsights/workspaces/tables@2023-09-01' = {
  parent: workspace
  name: metricsTable
  properties: {
    retentionInDays: 30
    schema: {
      name: metricsTable
      columns: [
        {
          name: 'TimeGenerated'
          type: 'datetime'
        }
        {
          name: 'Series'
          type: 'string'
        }
        {
          name: 'Value'
          type: 'real'
        }
      ]
    }
  }
}

resource collectionEndpoint 'Microsoft.Insights/dataCollectionEndpoints@2023-03-11' = {
  name: 'dce-rabbitmq-${namePrefix}'
  location: location
  tags: tags
  kind: 'Linux'
  properties: {}
}

resource collectionRule 'Microsoft.Insights/dataCollectionRules@2023-03-11' = {
  name: 'dcr-rabbitmq-${namePrefix}'
  location: location
  tags: tags
  kind: 'Linux'
  properties: {
    dataCollectionEndpointId: collectionEndpoint.id
    streamDeclarations: {
      'Custom-${metricsTable}': {
        columns: [
          {
            name: 'TimeGenerated'
            type: 'datetime'
          }
          {
            name: 'RawData'
            type: 'string'
          }
        ]
      }
    }
    dataSources: {
      logFiles: [
        {
          name: 'rabbitmqMetrics'
          streams: [
            'Custom-${metricsTable}'
          ]
          filePatterns: [
            '/var/log/rabbitmq-metrics/metrics-*.log'
          ]
          format: 'text'
          settings: {
            text: {
              recordStartTimestampFormat: 'ISO 8601'
            }
          }
        }
      ]
      syslog: [
        {
          name: 'syslog'
          streams: [
            'Microsoft-Syslog'
          ]
          facilityNames: [
            'daemon'
            'kern'
            'syslog'
          ]
          logLevels: [
            'Warning'
            'Error'
            'Critical'
            'Alert'
            'Emergency'
          ]
        }
      ]
      performanceCounters: [
        {
          name: 'guest'
          streams: [
            'Microsoft-Perf'
          ]
          samplingFrequencyInSeconds: 60
          counterSpecifiers: [
            'Processor(*)\\% Processor Time'
            'Memory(*)\\% Used Memory'
            'Memory(*)\\Available MBytes Memory'
            'Logical Disk(*)\\% Used Space'
            'Logical Disk(*)\\Free Megabytes'
          ]
        }
      ]
    }
    destinations: {
      logAnalytics: [
        {
          name: 'workspace'
          workspaceResourceId: workspaceId
        }
      ]
    }
    dataFlows: [
      {
        streams: [
          'Custom-${metricsTable}'
        ]
        destinations: [
          'workspace'
        ]
        // "<UTC time> <series> <value>", as rabbitmq-metrics-export writes it.
        transformKql: 'source | parse RawData with * " " Series:string " " Value:real | project TimeGenerated, Series, Value'
        outputStream: 'Custom-${metricsTable}'
      }
      {
        streams: [
          'Microsoft-Syslog'
          'Microsoft-Perf'
        ]
        destinations: [
          'workspace'
        ]
      }
    ]
  }
  dependsOn: [
    brokerMetricsTable
  ]
}

resource collectionRuleAssociation 'Microsoft.Insights/dataCollectionRuleAssociations@2023-03-11' = {
  name: 'rabbitmq'
  scope: vm
  properties: {
    dataCollectionRuleId: collectionRule.id
  }
}

resource endpointAssociation 'Microsoft.Insights/dataCollectionRuleAssociations@2023-03-11' = {
  // The endpoint's association has this fixed name.
  name: 'configurationAccessEndpoint'
  scope: vm
  properties: {
    dataCollectionEndpointId: collectionEndpoint.id
  }
}

resource zone 'Microsoft.Network/privateDnsZones@2024-06-01' = {
  name: hostName
  location: 'global'
  tags: tags
}

resource zoneLink 'Microsoft.Network/privateDnsZones/virtualNetworkLinks@2024-06-01' = {
  parent: zone
  name: vnetName
  location: 'global'
  tags: tags
  properties: {
    registrationEnabled: false
    virtualNetwork: {
      id: resourceId('Microsoft.Network/virtualNetworks', vnetName)
    }
  }
}

resource brokerRecord 'Microsoft.Network/privateDnsZones/A@2024-06-01' = {
  parent: zone
  name: '@'
  properties: {
    ttl: 300
    aRecords: [
      {
        ipv4Address: privateIpAddress
      }
    ]
  }
}

output privateIpAddress string = privateIpAddress
@description('The Log Analytics table the broker\'s metrics land in.')
output metricsTable string = brokerMetricsTable.name
