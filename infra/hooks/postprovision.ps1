# azd postprovision hook (Windows): same as postprovision.sh.
$ErrorActionPreference = 'Stop'

if (-not $env:CLIENT_IP_ADDRESS) {
  Write-Warning "CLIENT_IP_ADDRESS is not set, so the Postgres firewall does not admit this machine; skipping 'npm run setup' (see docs/deploy.md)."
  exit 0
}

function Get-Secret([string] $name) {
  az keyvault secret show --vault-name $env:AZURE_KEY_VAULT_NAME --name $name --query value --output tsv
  if ($LASTEXITCODE -ne 0) { throw "could not read secret $name" }
}

$env:POSTGRES_URL = Get-Secret 'postgres-url'
$env:RABBITMQ_URL = Get-Secret 'rabbitmq-url'

if (-not (Test-Path node_modules)) { npm ci; if ($LASTEXITCODE -ne 0) { exit $LASTEXITCODE } }
npm run setup
exit $LASTEXITCODE
