#!/usr/bin/env bash
# PostgreSQL restarts under a steady write load (run by hand; see docs/benchmarks.md).
#
# Order upserts with unique external ids, and creations retried with an Idempotency-Key until
# acknowledged, run against the API (release build) while PostgreSQL is restarted. Afterwards
# every acknowledged order must be in the database exactly once, and every acknowledged key must
# have made exactly one interaction. Also logs /readyz going to 503 and back. With
# FAULT_DOWN_SECONDS=N, PostgreSQL is stopped for N seconds instead of restarted.
set -euo pipefail
cd "$(dirname "$0")/../.."
# shellcheck source=../bench/seed.sh
source tests/bench/seed.sh
ROOT=$PWD
OUT=${FAULT_OUT:-$ROOT/target/faults}
PG_ADMIN=${FAULT_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/postgres}
DB=crm_fault_restart
URL=${PG_ADMIN%/*}/$DB
PORT=8091
SECONDS_OF_LOAD=${FAULT_SECONDS:-40}
CLUSTER=$(ls /etc/postgresql | head -1)
mkdir -p "$OUT"
cargo build --release -q -p crm -p crm-tests --bin crm --bin crm-load
CRM=$ROOT/target/release/crm
LOAD=$ROOT/target/release/crm-load
export CRM_DATABASE_URL=$URL CRM_BIND=127.0.0.1:$PORT RUST_LOG=warn CRM_DATA_DIR=$OUT/data
export CRM_JWT_SECRET=fault-secret-0123456789-0123456789-abcdef
# The write load comes from one address, far over any budget.
export CRM_RATE_LIMIT_PER_MINUTE=0

psql -q "$PG_ADMIN" -c "DROP DATABASE IF EXISTS $DB" -c "CREATE DATABASE $DB"
"$CRM" migrate >/dev/null
echo "fault-password-0123456789" | "$CRM" user create --email fault@example.com --role admin --password-stdin >/dev/null
"$CRM" serve --no-migrate &
API=$!
until curl -sf -o /dev/null "http://127.0.0.1:$PORT/readyz"; do sleep 0.05; done
TOKEN=$(curl -s -X POST "http://127.0.0.1:$PORT/v1/auth/token" -H 'content-type: application/json' \
  -d '{"email": "fault@example.com", "password": "fault-password-0123456789"}' |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')
create_load_products "http://127.0.0.1:$PORT" "$TOKEN"

# Readiness, every 200 ms, as status changes.
(
  last=""
  start=$(date +%s.%N)
  while kill -0 "$API" 2>/dev/null; do
    code=$(curl -s -m 2 -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/readyz" || true)
    if [ "$code" != "$last" ]; then
      printf '{"readyz": %s, "at_seconds": %.1f}\n' "$code" "$(echo "$(date +%s.%N) - $start" | bc)"
      last=$code
    fi
    sleep 0.2
  done
) >"$OUT/readyz.jsonl" &
WATCH=$!

"$LOAD" writes --base "http://127.0.0.1:$PORT" --token "$TOKEN" --seconds "$SECONDS_OF_LOAD" \
  --concurrency 8 --acks "$OUT/orders.txt" >"$OUT/writes.json" 2>"$OUT/writes-timeline.txt" &
WRITES=$!
"$LOAD" retries --base "http://127.0.0.1:$PORT" --token "$TOKEN" --seconds "$SECONDS_OF_LOAD" \
  --concurrency 4 --acks "$OUT/keys.txt" >"$OUT/retries.json" &
RETRIES=$!
sleep $((SECONDS_OF_LOAD / 3))
if [ -n "${FAULT_DOWN_SECONDS:-}" ]; then
  # A longer outage than a restart's: stopped, then started again.
  pg_ctlcluster --skip-systemctl-redirect "$CLUSTER" main stop
  sleep "$FAULT_DOWN_SECONDS"
  pg_ctlcluster --skip-systemctl-redirect "$CLUSTER" main start
else
  pg_ctlcluster --skip-systemctl-redirect "$CLUSTER" main restart
fi
wait "$WRITES" "$RETRIES"
sleep 1
kill "$API" "$WATCH" 2>/dev/null || true
wait 2>/dev/null || true

acked=$(wc -l <"$OUT/orders.txt")
psql -qAt "$URL" -c "CREATE TEMP TABLE acked (external_id TEXT)" \
  -c "\\copy acked FROM '$OUT/orders.txt'" \
  -c "SELECT count(*) FROM acked a WHERE NOT EXISTS (SELECT 1 FROM orders o WHERE o.channel = 'fault' AND o.external_id = a.external_id)" \
  >"$OUT/lost.txt"
lost=$(tail -1 "$OUT/lost.txt")
stored=$(psql -qAt "$URL" -c "SELECT count(*) FROM orders WHERE channel = 'fault'")
duplicates=$(psql -qAt "$URL" -c "SELECT count(*) FROM (SELECT external_id FROM orders WHERE channel = 'fault' GROUP BY external_id HAVING count(*) > 1) d")
keys=$(wc -l <"$OUT/keys.txt")
psql -qAt "$URL" -c "CREATE TEMP TABLE keys (k TEXT)" -c "\\copy keys FROM '$OUT/keys.txt'" \
  -c "SELECT count(*) FILTER (WHERE n = 0), count(*) FILTER (WHERE n > 1) FROM (SELECT k, (SELECT count(*) FROM interactions i WHERE i.subject = keys.k) AS n FROM keys) c" \
  >"$OUT/keys-check.txt"
IFS='|' read -r keys_lost keys_duplicated < <(tail -1 "$OUT/keys-check.txt")
echo "{\"orders_acknowledged\": $acked, \"orders_lost\": $lost, \"orders_stored\": $stored, \"orders_duplicated\": $duplicates, \"keys_acknowledged\": $keys, \"keys_lost\": $keys_lost, \"keys_duplicated\": $keys_duplicated}"
cat "$OUT/writes.json" "$OUT/retries.json" "$OUT/readyz.jsonl"
psql -q "$PG_ADMIN" -c "DROP DATABASE IF EXISTS $DB"
