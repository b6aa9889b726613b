#!/usr/bin/env bash
# npm run infra:build: compiles infra/main.bicep (and through it every module) to ARM JSON at
# .local/infra/main.json and lints every template, with the real Bicep CLI (scripts/bicep.sh). Any
# error or warning fails it; a suppression belongs in the template, with its reason beside it.
# infra/entra/ is left out: its Microsoft Graph extension is restored from a container registry that
# offline machines can't reach (docs/deploy.md says how it is checked).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
bicep=scripts/bicep.sh
out=.local/infra
mkdir -p "$out"
"$bicep" --version >/dev/null   # restores the CLI on first use, outside the diagnostics below

modules=(infra/modules/*.bicep)
[ -e "${modules[0]}" ] || { echo "infra:build: no modules in infra/modules" >&2; exit 1; }

diagnostics="$out/diagnostics.txt"
rm -f "$out/main.json"
{
  "$bicep" build infra/main.bicep --outfile "$out/main.json"
  "$bicep" lint infra/main.bicep
  "$bicep" lint --pattern 'infra/modules/*.bicep'
} >"$diagnostics" 2>&1 || true

if [ -s "$diagnostics" ] || [ ! -s "$out/main.json" ]; then
  cat "$diagnostics" >&2
  echo "infra:build: the Bicep CLI reported $(grep -c ' : \(Error\|Warning\) ' "$diagnostics" || true) errors/warnings" >&2
  exit 1
fi
echo "infra:build: $(("${#modules[@]}" + 1)) templates built and linted with $("$bicep" --version), no diagnostics; ARM JSON at $out/main.json"
