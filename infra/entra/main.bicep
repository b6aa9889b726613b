// Optional: creates the API app registration with the Microsoft Graph Bicep extension, apart from
// infra/main.bicep so the main deployment compiles without the extension (restored from a container
// registry) and needs no Graph permissions. Deploy it once, then give its ENTRA_CLIENT_ID output to azd:
//   az deployment sub create -l <region> -f infra/entra/main.bicep -p environmentName=<env>
// docs/deploy.md section 1 shows this and how the file is checked.
targetScope = 'subscription'

@minLength(1)
param environmentName string

var uniqueName = 'shop-api-${toLower(uniqueString(subscription().id, environmentName))}'

// Two passes: identifierUris must be api://<appId>, and an app registration can't reference its own appId.
module registration 'app.bicep' = {
  name: 'entra-app'
  params: {
    uniqueName: uniqueName
    displayName: 'Shop API (${environmentName})'
    identifierUris: []
  }
}

module registrationUri 'app.bicep' = {
  name: 'entra-app-uri'
  params: {
    uniqueName: uniqueName
    displayName: 'Shop API (${environmentName})'
    identifierUris: [
      'api://${registration.outputs.appId}'
    ]
  }
}

output ENTRA_CLIENT_ID string = registrationUri.outputs.appId
