#!/bin/sh
# azd postprovision hook: `npm run setup` (migrations + broker topology, idempotent) against the
# deployed Postgres and RabbitMQ. The connection strings are read from Key Vault, never stored here.
set -eu

if [ -z "${CLIENT_IP_ADDRESS:-}" ]; then
  echo "postprovision: CLIENT_IP_ADDRESS is not set, so the Postgres firewall does not admit this machine." >&2
  echo "postprovision: skipping 'npm run setup'; see docs/deploy.md (Run the setup once)." >&2
  exit 0
fi

secret() {
  az keyvault secret show --vault-name "$AZURE_KEY_VAULT_NAME" --name "$1" --query value --output tsv
}

POSTGRES_URL=$(secret postgres-url)
RABBITMQ_URL=$(secret rabbitmq-url)
export POSTGRES_URL RABBITMQ_URL

[ -d node_modules ] || npm ci
npm run setup
