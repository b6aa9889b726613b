#!/usr/bin/env bash
# npm run package [-- <folder>]: stages what azd deploys, in <folder> (default .local/deploy):
#   api/  the function app package: dist/, host.json, package.json, migrations/ and production-only
#         node_modules from the lock file, with .funcignore, which azd (and `func azure functionapp publish`, run
#         inside the folder) applies when zipping it;
#   web/  the storefront (web/dist) with the Static Web Apps routing file and, when the azd
#         environment provides them, the /config.json its sign-in reads (docs/deploy.md).
# azd runs this as the `package` script of both services (azure.yaml), right after `npm run build`.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
mkdir -p "${1:-$root/.local/deploy}"
target="$(cd "${1:-$root/.local/deploy}" && pwd)"
cd "$root"

# azd runs `npm run build` just before this; building again here would rewrite dist/ under running tests.
for built in dist/functions/index.js web/dist/index.html; do
  [ -f "$built" ] || { echo "package: $built is missing; run npm run build first" >&2; exit 1; }
done

api="$target/api"
rm -rf "$api" && mkdir -p "$api"
cp -R dist host.json package.json package-lock.json migrations .funcignore "$api/"
(cd "$api" && npm ci --omit=dev --ignore-scripts --no-audit --no-fund --loglevel=error)

web="$target/web"
rm -rf "$web" && mkdir -p "$web"
cp -R web/dist/. "$web/"
# Client-side routes (/cart, /orders/<id>) are answered with index.html; built assets and config.json are not.
cat >"$web/staticwebapp.config.json" <<'JSON'
{
  "navigationFallback": {
    "rewrite": "/index.html",
    "exclude": ["/assets/*", "/config.json"]
  },
  "globalHeaders": {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer"
  }
}
JSON

# The storefront's settings (web/src/config.ts). azd passes its environment, outputs included, to this script.
tenant="${ENTRA_TENANT_ID:-${AZURE_TENANT_ID:-}}"
if [ -n "${API_BASE_URL:-}" ] && [ -n "$tenant" ] && [ -n "${ENTRA_CLIENT_ID:-}" ] && [ -n "${STOREFRONT_CLIENT_ID:-}" ]; then
  API_BASE_URL="$API_BASE_URL" TENANT="$tenant" node -e '
    const env = process.env;
    process.stdout.write(JSON.stringify({
      apiBaseUrl: env.API_BASE_URL,
      auth: {
        clientId: env.STOREFRONT_CLIENT_ID,
        authority: `https://login.microsoftonline.com/${env.TENANT}`,
        apiScope: `api://${env.ENTRA_CLIENT_ID}/access_as_user`,
      },
    }, null, 2) + "\n");' >"$web/config.json"
elif [ -n "${AZURE_ENV_NAME:-}" ]; then
  echo "package: the storefront needs API_BASE_URL, ENTRA_CLIENT_ID, STOREFRONT_CLIENT_ID and a tenant id in the azd environment (docs/deploy.md)" >&2
  exit 1
fi

echo "package: api $(du -sh "$api" | cut -f1), web $(du -sh "$web" | cut -f1), staged in $target" >&2
