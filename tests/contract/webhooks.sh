#!/usr/bin/env bash
# Webhooks as a receiver sees them: a live `crm serve` allowed to call loopback receivers, a
# receiver subscribed to `*`, a spread of writes, and every delivery checked (signature, the
# OpenAPI document's `webhooks` schema, the feed, which write emitted it); see webhooks.py.
# Usage: webhooks.sh [database URL]; CRM_BIN runs that binary instead of building one.
set -euo pipefail
cd "$(dirname "$0")"
ROOT=$(cd ../.. && pwd)
WORK=$(mktemp -d)
DATABASE_URL=${1:-sqlite://$WORK/webhooks.db}
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
BASE=http://127.0.0.1:$PORT
export CRM_DATABASE_URL=$DATABASE_URL CRM_DATA_DIR=$WORK CRM_BIND=127.0.0.1:$PORT
export CRM_JWT_SECRET=webhooks-secret-that-is-long-enough-0123456789 RUST_LOG=warn
export CRM_WEBHOOK_ALLOW_HTTP=true CRM_WEBHOOK_ALLOW_PRIVATE=true CRM_RATE_LIMIT_PER_MINUTE=0

# CRM_BIN runs a binary already built instead of building target/debug/crm.
if [ -n "${CRM_BIN:-}" ]; then CRM=$CRM_BIN; else (cd "$ROOT" && cargo build -q -p crm); CRM=$ROOT/target/debug/crm; fi
echo "a long webhooks passphrase" | "$CRM" user create --email webhooks@example.com --role admin --password-stdin > /dev/null
"$CRM" serve > "$WORK/server.log" 2>&1 &
SERVER=$!
trap 'kill $SERVER 2>/dev/null || true; rm -rf "$WORK"' EXIT
for _ in $(seq 1 50); do curl -sf "$BASE/healthz" > /dev/null && break; sleep 0.2; done
TOKEN=$(curl -sf "$BASE/v1/auth/token" -H 'content-type: application/json' \
  -d '{"email":"webhooks@example.com","password":"a long webhooks passphrase"}' | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')

set +e
.venv/bin/python webhooks.py "$BASE" "$TOKEN"
STATUS=$?
set -e
if [ "$STATUS" -ne 0 ] && [ -s "$WORK/server.log" ]; then
  echo "--- server log (last 40 lines)"
  tail -n 40 "$WORK/server.log"
fi
exit "$STATUS"
