// The browser storefront (web/, built into web/dist) on Azure Static Web Apps: global CDN, TLS and a
// default host name, no server. azd deploys web/dist to it (service `web` in azure.yaml).
// Static Web Apps is offered in a few regions only, hence its own location.
// https://learn.microsoft.com/azure/static-web-apps/overview
param name string
param location string
param tags object

resource site 'Microsoft.Web/staticSites@2024-11-01' = {
  name: name
  location: location
  tags: union(tags, {
    'azd-service-name': 'web'
  })
  sku: {
    name: 'Free'
    tier: 'Free'
  }
  properties: {}
}

output name string = site.name
output url string = 'https://${site.properties.defaultHostname}'
