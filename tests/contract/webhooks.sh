#!/usr/bin/env bash
# Webhooks as a receiver sees them: a live `crm serve` allowed to call loopback receivers, a
# receiver subscribed to `*`, a spread of writes, and every delivery checked (signature, the
# OpenAPI document's `webhooks` schema, the feed, which write emitted it); see webhooks.py.
# Usage: webhooks.sh [database URL]; CRM_BIN runs that binary instead of building one.
set -euo pipefail
cd "$(dirname "$0")"
ROOT=$(cd ../.. && pwd)
export CRM_WEBHOOK_ALLOW_HTTP=true CRM_WEBHOOK_ALLOW_PRIVATE=true CRM_RATE_LIMIT_PER_MINUTE=0
source ./serve.sh
start_crm webhooks webhooks@example.com "a long webhooks passphrase" "${1:-}"
TOKEN=$(admin_token webhooks@example.com "a long webhooks passphrase")

set +e
.venv/bin/python webhooks.py "$BASE" "$TOKEN"
STATUS=$?
set -e
if [ "$STATUS" -ne 0 ] && [ -s "$WORK/server.log" ]; then
  echo "--- server log (last 40 lines)"
  tail -n 40 "$WORK/server.log"
fi
exit "$STATUS"
