#!/usr/bin/env bash
# Generates the Python and TypeScript clients from openapi/openapi.json and walks the main story
# with each against a live `crm serve`. Usage: run.sh [database URL]
set -euo pipefail
cd "$(dirname "$0")"
ROOT=$(cd ../.. && pwd)
CONTRACT=$ROOT/tests/contract
export CRM_RATE_LIMIT_PER_MINUTE=0
source "$CONTRACT/serve.sh"
start_crm clients scenario@example.com "a long scenario passphrase" "${1:-}"

echo "== Python client (openapi-python-client)"
GENERATED=$("$CONTRACT/.venv/bin/openapi-python-client" generate --path "$ROOT/openapi/openapi.json" \
  --output-path "$WORK/python" --config "$CONTRACT/python-client.yaml" --overwrite 2>&1)
echo "$GENERATED"
if echo "$GENERATED" | grep -qi "warning"; then echo "FAIL: the generator warned about our spec"; exit 1; fi
PYTHONPATH="$WORK/python" "$CONTRACT/.venv/bin/python" python/scenario.py "$BASE" scenario@example.com "a long scenario passphrase"

echo "== TypeScript client (openapi-typescript + openapi-fetch)"
# The client is generated and compiled in tests/contract/ts, beside its node_modules; CI runs
# this script on SQLite and on PostgreSQL at once, so each run holds the directory while it
# generates, compiles and starts the scenario.
typescript_client() {
  TS_GENERATED=$(cd "$CONTRACT" && npx --no-install openapi-typescript "$ROOT/openapi/openapi.json" -o ts/schema.d.ts --redocly redocly.yaml 2>&1 | grep -v "npm warn")
  echo "$TS_GENERATED"
  if echo "$TS_GENERATED" | grep -q "⚠"; then echo "FAIL: the generator warned about our spec"; return 1; fi
  (cd "$CONTRACT" && npx --no-install tsc --noEmit -p ts && npx --no-install tsc -p ts)
  node "$CONTRACT/ts/build/scenario.js" "$BASE" scenario@example.com "a long scenario passphrase"
}
exec {TS_LOCK}> "$CONTRACT/ts/.lock"
flock "$TS_LOCK"
typescript_client
