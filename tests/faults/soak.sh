#!/usr/bin/env bash
# The soak (run by hand; see docs/benchmarks.md): a mixed workload at a fixed rate for
# SOAK_SECONDS (600) against the API (release build) on PostgreSQL, seeded by `crm demo-data`.
# With SOAK_NODES=2, two API processes share the database and the requests alternate between
# them; each contact created is then retried with its Idempotency-Key on the other node (the
# same response must come back), updated there with If-Match, and updated again on the first
# node with the same, now stale, If-Match (which must get 412).
# Prints the per-minute request count, errors, p50 and p99, and the RSS of each process every
# 30 seconds; what database sessions wait on goes to $OUT/pg_activity.txt. With
# SOAK_EXPLAIN_MS=N, PostgreSQL logs the plan of every statement slower than N ms.
set -euo pipefail
cd "$(dirname "$0")/../.."
# shellcheck source=../bench/seed.sh
source tests/bench/seed.sh
ROOT=$PWD
OUT=${SOAK_OUT:-$ROOT/target/soak}
PG_ADMIN=${SOAK_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/postgres}
DB=crm_soak
URL=${PG_ADMIN%/*}/$DB
RATE=${SOAK_RATE:?set SOAK_RATE to about 70% of the mixed peak measured by make bench}
SECONDS_OF_LOAD=${SOAK_SECONDS:-600}
NODES=${SOAK_NODES:-1}
mkdir -p "$OUT"
cargo build --release -q -p crm -p crm-tests --bin crm --bin crm-load
CRM=$ROOT/target/release/crm
LOAD=$ROOT/target/release/crm-load
export CRM_DATABASE_URL=$URL RUST_LOG=warn CRM_DATA_DIR=$OUT/data
export CRM_JWT_SECRET=soak-secret-0123456789-0123456789-abcdef
# The load comes from one address as a few users, far over any budget.
export CRM_RATE_LIMIT_PER_MINUTE=0

psql -q "$PG_ADMIN" -c "DROP DATABASE IF EXISTS $DB" -c "CREATE DATABASE $DB"
if [ -n "${SOAK_EXPLAIN_MS:-}" ]; then
  # The plans of statements slower than this go to the PostgreSQL server log.
  psql -q "$URL" -c "ALTER DATABASE $DB SET session_preload_libraries = 'auto_explain'" \
    -c "ALTER DATABASE $DB SET auto_explain.log_min_duration = $SOAK_EXPLAIN_MS"
fi
"$CRM" migrate >/dev/null
"$CRM" demo-data --companies 2000 --orders 20000 --seed 1 >/dev/null
echo "soak-password-0123456789" | "$CRM" user create --email soak@example.com --role admin --password-stdin >/dev/null
psql -qAt "$URL" -c "SELECT id FROM contacts LIMIT 2000" >"$OUT/contacts.txt"
psql -qAt "$URL" -c "SELECT id FROM companies LIMIT 2000" >"$OUT/companies.txt"
PIDS=()
for n in $(seq 1 "$NODES"); do
  CRM_BIND=127.0.0.1:$((8093 + n)) "$CRM" serve --no-migrate &
  PIDS+=($!)
done
for n in $(seq 1 "$NODES"); do
  until curl -sf -o /dev/null "http://127.0.0.1:$((8093 + n))/readyz"; do sleep 0.05; done
done
TOKEN=$(curl -s -X POST "http://127.0.0.1:8094/v1/auth/token" -H 'content-type: application/json' \
  -d '{"email": "soak@example.com", "password": "soak-password-0123456789"}' |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')
create_load_products "http://127.0.0.1:8094" "$TOKEN"
(
  while true; do
    for pid in "${PIDS[@]}"; do
      printf '{"pid": %s, "at": "%s", "rss_kb": %s}\n' "$pid" "$(date +%T)" "$(ps -o rss= -p "$pid" | tr -d ' ')"
    done
    sleep 30
  done
) >"$OUT/rss.jsonl" &
SAMPLER=$!
# What the database sessions wait on, every second: to tell lock convoys from CPU or I/O.
(
  while true; do
    psql -qAt "$URL" -c "SELECT to_char(now(), 'HH24:MI:SS'), state, coalesce(wait_event_type, '-'), coalesce(wait_event, '-'), count(*) FROM pg_stat_activity WHERE datname = '$DB' AND pid <> pg_backend_pid() GROUP BY 2, 3, 4 ORDER BY 5 DESC"
    sleep 1
  done
) >"$OUT/pg_activity.txt" &
ACTIVITY=$!
# This machine's PostgreSQL runs with autovacuum off (for CI), which production never does; as
# the tables grow, the planner would go on planning for the seeded sizes. Analyze every minute,
# as autovacuum's analyze would (it runs once 10% of a table has changed, checking every minute).
if [ "$(psql -qAt "$URL" -c "SHOW autovacuum")" = off ]; then
  (
    while sleep 60; do psql -q "$URL" -c ANALYZE; done
  ) &
  ANALYZER=$!
fi
BASES=()
for n in $(seq 1 "$NODES"); do
  BASES+=(--base "http://127.0.0.1:$((8093 + n))")
done
"$LOAD" mixed "${BASES[@]}" --token "$TOKEN" --seconds "$SECONDS_OF_LOAD" --rate "$RATE" \
  --contacts "$OUT/contacts.txt" --companies "$OUT/companies.txt" >"$OUT/mixed.jsonl"
kill "$SAMPLER" "$ACTIVITY" ${ANALYZER:+"$ANALYZER"} "${PIDS[@]}"
wait 2>/dev/null || true
cat "$OUT/mixed.jsonl"
cat "$OUT/rss.jsonl"
echo "orders duplicated: $(psql -qAt "$URL" -c "SELECT count(*) FROM (SELECT channel, external_id FROM orders GROUP BY 1, 2 HAVING count(*) > 1) d")"
psql -q "$PG_ADMIN" -c "DROP DATABASE IF EXISTS $DB"
