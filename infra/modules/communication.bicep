// Customer notifications: Azure Communication Services Email with an Azure-managed sender domain,
// linked to a Communication Services resource the app's user-assigned identity sends through (Entra
// ID, no access key or connection string). ACS has no send-only built-in role: the identity gets
// "Communication and Email Service Owner" on this one resource only.
// https://learn.microsoft.com/azure/communication-services/quickstarts/email/send-email
param name string
param tags object

@description('Where ACS stores data at rest (an ACS data location, e.g. Europe or United States).')
param dataLocation string

param appPrincipalId string

resource emailService 'Microsoft.Communication/emailServices@2023-04-01' = {
  name: '${name}-email'
  location: 'global'
  tags: tags
  properties: {
    dataLocation: dataLocation
  }
}

resource domain 'Microsoft.Communication/emailServices/domains@2023-04-01' = {
  parent: emailService
  name: 'AzureManagedDomain'
  location: 'global'
  tags: tags
  properties: {
    domainManagement: 'AzureManaged'
    // Order emails carry no tracking links.
    userEngagementTracking: 'Disabled'
  }
}

resource communication 'Microsoft.Communication/communicationServices@2023-04-01' = {
  name: name
  location: 'global'
  tags: tags
  properties: {
    dataLocation: dataLocation
    linkedDomains: [
      domain.id
    ]
  }
}

var communicationAndEmailServiceOwner = subscriptionResourceId('Microsoft.Authorization/roleDefinitions', '09976791-48a7-449e-bb21-39d1a415f350')

resource appSendsEmail 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(communication.id, appPrincipalId, communicationAndEmailServiceOwner)
  scope: communication
  properties: {
    principalId: appPrincipalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: communicationAndEmailServiceOwner
  }
}

output name string = communication.name
output endpoint string = 'https://${communication.properties.hostName}'
output senderAddress string = 'DoNotReply@${domain.properties.mailFromSenderDomain}'
