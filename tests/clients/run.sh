#!/usr/bin/env bash
# Generates the Python and TypeScript clients from openapi/openapi.json and walks the main story
# with each against a live `crm serve`. Usage: run.sh [database URL]
set -euo pipefail
cd "$(dirname "$0")"
ROOT=$(cd ../.. && pwd)
CONTRACT=$ROOT/tests/contract
WORK=$(mktemp -d)
DATABASE_URL=${1:-sqlite://$WORK/clients.db}
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
BASE=http://127.0.0.1:$PORT
export CRM_DATABASE_URL=$DATABASE_URL CRM_DATA_DIR=$WORK CRM_BIND=127.0.0.1:$PORT
export CRM_JWT_SECRET=clients-secret-that-is-long-enough-0123456789 RUST_LOG=warn CRM_RATE_LIMIT_PER_MINUTE=0

# CRM_BIN runs a binary already built instead of building target/debug/crm.
if [ -n "${CRM_BIN:-}" ]; then CRM=$CRM_BIN; else (cd "$ROOT" && cargo build -q -p crm); CRM=$ROOT/target/debug/crm; fi
echo "a long scenario passphrase" | "$CRM" user create --email scenario@example.com --role admin --password-stdin > /dev/null
"$CRM" serve > "$WORK/server.log" 2>&1 &
SERVER=$!
trap 'kill $SERVER 2>/dev/null || true; rm -rf "$WORK"' EXIT
for _ in $(seq 1 50); do curl -sf "$BASE/healthz" > /dev/null && break; sleep 0.2; done

echo "== Python client (openapi-python-client)"
GENERATED=$("$CONTRACT/.venv/bin/openapi-python-client" generate --path "$ROOT/openapi/openapi.json" \
  --output-path "$WORK/python" --config "$CONTRACT/python-client.yaml" --overwrite 2>&1)
echo "$GENERATED"
if echo "$GENERATED" | grep -qi "warning"; then echo "FAIL: the generator warned about our spec"; exit 1; fi
PYTHONPATH="$WORK/python" "$CONTRACT/.venv/bin/python" python/scenario.py "$BASE" scenario@example.com "a long scenario passphrase"

echo "== TypeScript client (openapi-typescript + openapi-fetch)"
TS_GENERATED=$(cd "$CONTRACT" && npx --no-install openapi-typescript "$ROOT/openapi/openapi.json" -o ts/schema.d.ts --redocly redocly.yaml 2>&1 | grep -v "npm warn")
echo "$TS_GENERATED"
if echo "$TS_GENERATED" | grep -q "⚠"; then echo "FAIL: the generator warned about our spec"; exit 1; fi
(cd "$CONTRACT" && npx --no-install tsc --noEmit -p ts && npx --no-install tsc -p ts)
node "$CONTRACT/ts/build/scenario.js" "$BASE" scenario@example.com "a long scenario passphrase"
