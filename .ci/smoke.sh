#!/usr/bin/env bash
# .ci/smoke.sh dev|start: runs `npm run dev` or `npm start` as a user does, on free ports (app, storefront, dev
# issuer), under the host FUNCTIONS_HOST_COMMAND names (`npm run dev`: the local host when unset; `npm start`:
# `func start`). Waits for /api/health 200 with a consumer on every trigger queue, runs the contract smoke against
# it (`npm start`: its checkout checks, one order to PAID), then stops it with SIGINT as Ctrl-C would and fails
# when it is not gone within 60 s or leaves any process of its group behind. The services must be up already
# (.ci/run starts them first), so nothing it starts outlives it legitimately.
set -euo pipefail
cd "$(dirname "$0")/.."
mode=${1:?usage: .ci/smoke.sh dev|start}
case "$mode" in
  dev) run=(npm run dev); only=() ;;
  start) run=(npm start); only=(--only checkout) ;;
  *) echo "usage: .ci/smoke.sh dev|start" >&2; exit 2 ;;
esac
free_port() { node -e "const s = require('node:net').createServer().listen(0, '127.0.0.1', () => { console.log(s.address().port); s.close(); })"; }
tenant=7d3f0c1e-5a52-4c6e-9d1b-2f8a6e4b0c11 # the dev tenant (src/dev-issuer/constants.ts)
PORT=$(free_port) STOREFRONT_PORT=$(free_port)
ENTRA_ISSUER="https://localhost:$(free_port)/$tenant/v2.0" ENTRA_JWKS_URI="http://127.0.0.1:$(free_port)/$tenant/discovery/v2.0/keys"
export PORT STOREFRONT_PORT ENTRA_ISSUER ENTRA_JWKS_URI
host="${FUNCTIONS_HOST_COMMAND:-$([ "$mode" = dev ] && echo 'the local host' || echo 'func start')}"
log=$(mktemp)
started=$(date +%s)
# A session of its own: its process group is everything npm starts (host, worker, issuer, storefront).
setsid "${run[@]}" >"$log" 2>&1 &
pid=$!
fail() {
  echo "smoke ($mode under $host) failed: $1; its output:" >&2
  tail -n 80 "$log" >&2
  kill -KILL -- "-$pid" 2>/dev/null || true
  exit 1
}
healthy() {
  curl -sf "http://127.0.0.1:$PORT/api/health" | node -e "
    const health = JSON.parse(require('node:fs').readFileSync(0, 'utf8'));
    const queues = ['cart-checked-out', 'order-created', 'payment-processed', 'order-notifications'];
    process.exit(health.status === 'ok' && queues.every((queue) => health.consumers?.[queue] >= 1) ? 0 : 1);" 2>/dev/null
}
until healthy; do
  kill -0 "$pid" 2>/dev/null || fail "it exited before it was healthy"
  [ $(($(date +%s) - started)) -lt 420 ] || fail "no healthy /api/health with every consumer within 420 s"
  sleep 2
done
echo "smoke: npm ${run[*]:1} under $host healthy after $(($(date +%s) - started)) s on port $PORT"
npx tsx scripts/contract-smoke.ts --api "http://127.0.0.1:$PORT/api" "${only[@]}" || fail "contract checks failed (above)"
kill -INT -- "-$pid"
for _ in $(seq 60); do kill -0 "$pid" 2>/dev/null || break; sleep 1; done
kill -0 "$pid" 2>/dev/null && fail "still running 60 s after SIGINT"
sleep 1
if left=$(ps -o pid=,args= -g "$pid"); then fail "processes left behind after it exited:
$left"; fi
echo "smoke: npm ${run[*]:1} under $host stopped cleanly, nothing left behind ($(($(date +%s) - started)) s in all)"
rm -f "$log"
