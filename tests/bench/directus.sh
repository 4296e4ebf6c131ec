#!/usr/bin/env bash
# The peer: Directus (npm `directus`, installed under $DIRECTUS_HOME, default /tmp/directus, with
# `npm install directus@11`) serving the same contacts table on the same PostgreSQL database,
# authenticated by a static admin token. Prints wrk's JSON line for get-by-id.
set -euo pipefail
PG_URL=$1
OUT=$2
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
DIRECTUS_HOME=${DIRECTUS_HOME:-/tmp/directus}
export DB_CLIENT=pg DB_CONNECTION_STRING=$PG_URL KEY=directus-bench-key
export SECRET=directus-bench-secret-0123456789-0123456789
export ADMIN_EMAIL=admin@example.com ADMIN_PASSWORD=directus-bench-password
export ADMIN_TOKEN=directus-static-token-0123456789 PORT=8055 HOST=127.0.0.1
export LOG_LEVEL=warn TELEMETRY=false CACHE_ENABLED=false RATE_LIMITER_ENABLED=false
cd "$DIRECTUS_HOME"
node_modules/.bin/directus bootstrap >"$OUT/directus-bootstrap.log" 2>&1
node_modules/.bin/directus start >"$OUT/directus.log" 2>&1 &
PID=$!
for _ in $(seq 1 600); do
  curl -sf -o /dev/null http://127.0.0.1:8055/server/health && break
  sleep 0.1
done
first=$(head -1 "$OUT/contacts.txt")
status=$(curl -s -o "$OUT/directus-item.json" -w '%{http_code}' \
  -H "Authorization: Bearer $ADMIN_TOKEN" "http://127.0.0.1:8055/items/contacts/$first")
if [ "$status" != 200 ]; then
  echo "Directus answered $status for a contact: $(head -c 300 "$OUT/directus-item.json")" >&2
  kill "$PID"
  exit 1
fi
WRK_DIR=$ROOT/tests/bench/wrk TOKEN=$ADMIN_TOKEN CONTACT_IDS=$OUT/contacts.txt SCENARIO=directus_contact \
  wrk -t2 -c"${BENCH_CONNECTIONS:-32}" -d"${BENCH_SECONDS:-15}s" -s "$ROOT/tests/bench/wrk/scenario.lua" \
  http://127.0.0.1:8055 | grep '^{' | sed 's/^{/{"backend": "directus", /; s/"op": "directus_contact"/"op": "get_contact"/'
kill "$PID"
wait "$PID" 2>/dev/null || true
