// The API app registration, created with the Microsoft Graph Bicep extension (alias microsoftGraphV1 in
// infra/entra/bicepconfig.json); called twice by infra/entra/main.bicep.
// https://learn.microsoft.com/graph/templates/bicep/reference/applications
// The deploying identity needs permission to create app registrations (e.g. Application Developer).
targetScope = 'subscription'

extension microsoftGraphV1

@description('Stable key of the registration; deployments upsert by it.')
param uniqueName string
param displayName string

@description('Empty on the first pass; api://<appId> on the second (an app cannot reference its own appId).')
param identifierUris array = []

@description('Only users and apps assigned a role (or consented) may get tokens: recommended.')
param assignmentRequired bool = true

resource app 'Microsoft.Graph/applications@v1.0' = {
  uniqueName: uniqueName
  displayName: displayName
  signInAudience: 'AzureADMyOrg'
  identifierUris: identifierUris
  owners: {
    relationships: [
      deployer().objectId
    ]
  }
  api: {
    // The API accepts v2 tokens only (iss https://login.microsoftonline.com/<tenant>/v2.0).
    requestedAccessTokenVersion: 2
    oauth2PermissionScopes: [
      {
        id: guid(uniqueName, 'access_as_user')
        value: 'access_as_user'
        type: 'User'
        isEnabled: true
        adminConsentDisplayName: 'Use the shop API'
        adminConsentDescription: 'Lets the app call the shop API on behalf of the signed-in user.'
        userConsentDisplayName: 'Use the shop API'
        userConsentDescription: 'Lets the app use the shop (cart, checkout, orders) as you.'
      }
    ]
  }
  appRoles: [
    {
      id: guid(uniqueName, 'Products.Write')
      value: 'Products.Write'
      displayName: 'Products.Write'
      description: 'Create, update and delete products.'
      allowedMemberTypes: [
        'User'
        'Application'
      ]
      isEnabled: true
    }
    {
      id: guid(uniqueName, 'Orders.Read.All')
      value: 'Orders.Read.All'
      displayName: 'Orders.Read.All'
      description: 'Read any order and inspect dead letters.'
      allowedMemberTypes: [
        'User'
        'Application'
      ]
      isEnabled: true
    }
  ]
}

resource servicePrincipal 'Microsoft.Graph/servicePrincipals@v1.0' = {
  appId: app.appId
  appRoleAssignmentRequired: assignmentRequired
}

output appId string = app.appId
