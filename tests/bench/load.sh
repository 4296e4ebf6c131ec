#!/usr/bin/env bash
# `make bench`: the load table of docs/benchmarks.md. Not part of CI.
#
# The API (release build) on PostgreSQL, then on SQLite, seeded with `crm demo-data`, under wrk
# on this same machine; then, in the same run, the baselines: a bare actix handler (the HTTP
# floor), the same select and insert through a plain connection pool, pgbench custom scripts,
# and Directus serving the same contacts table when it is installed (tests/bench/directus.sh).
# Prints one JSON line per measurement; tests/bench/table.py turns them into the table.
#
# BENCH_BACKENDS (default postgres,sqlite) and BENCH_SCENARIOS (default every scenario
# below) narrow the run; the HTTP floor always runs, as the baseline of every ratio. For
# example, SQLite get-by-id against the floor:
#   BENCH_BACKENDS=sqlite BENCH_SCENARIOS=get_contact make bench-load
set -euo pipefail
cd "$(dirname "$0")/../.."
# shellcheck source=seed.sh
source tests/bench/seed.sh
ROOT=$PWD
OUT=${BENCH_OUT:-$ROOT/target/bench}
SECONDS_PER_OP=${BENCH_SECONDS:-15}
CONNECTIONS=${BENCH_CONNECTIONS:-32}
PG_ADMIN=${BENCH_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/postgres}
PG_DB=crm_bench_load
PG_URL=${PG_ADMIN%/*}/$PG_DB
PORT=8089
BACKENDS=${BENCH_BACKENDS:-postgres,sqlite}
BACKENDS=${BACKENDS//,/ }
SCENARIOS=${BENCH_SCENARIOS:-get_contact,list_contacts,filter_contacts,create_contact,upsert_order,overview}
SCENARIOS=${SCENARIOS//,/ }
mkdir -p "$OUT"
RESULTS=$OUT/results.jsonl
: >"$RESULTS"

command -v wrk >/dev/null || apt-get install -y -qq wrk >/dev/null
cargo build --release -q -p crm -p crm-tests --bin crm --bin crm-load
CRM=$ROOT/target/release/crm
LOAD=$ROOT/target/release/crm-load
export WRK_DIR=$ROOT/tests/bench/wrk
export CRM_JWT_SECRET=bench-secret-0123456789-0123456789-abcdef
export CRM_BIND=127.0.0.1:$PORT RUST_LOG=warn CRM_LOGIN_MAX_FAILURES=1000
# The bench measures the API, not its rate limit.
export CRM_RATE_LIMIT_PER_MINUTE=0

record() { tee -a "$RESULTS"; }
SERVER=
FLOOR=
trap 'kill $SERVER $FLOOR 2>/dev/null || true' EXIT

wrk_run() { # scenario backend url
  SCENARIO=$1 wrk -t2 -c"$CONNECTIONS" -d"${SECONDS_PER_OP}s" -s "$WRK_DIR/scenario.lua" "$3" |
    grep '^{' | sed "s/^{/{\"backend\": \"$2\", /" | record
}

wait_ready() { # url
  for _ in $(seq 1 2000); do
    curl -sf -o /dev/null "$1" && return 0
    sleep 0.005
  done
  echo "not ready: $1" >&2
  return 1
}

bench_api() { # backend database-url
  local backend=$1 url=$2
  export CRM_DATABASE_URL=$url CRM_DATA_DIR=$OUT/data-$backend
  "$CRM" migrate >/dev/null
  "$CRM" demo-data --companies 2000 --orders 20000 --seed 1 >/dev/null
  local email=bench-$backend@example.com
  echo "bench-password-0123456789" | "$CRM" user create --email "$email" --role admin --password-stdin >/dev/null
  local started
  started=$(date +%s%N)
  "$CRM" serve --no-migrate &
  local pid=$!
  SERVER=$pid
  wait_ready "http://127.0.0.1:$PORT/readyz"
  local ready_ms=$((($(date +%s%N) - started) / 1000000))
  sleep 2
  local rss_kb
  rss_kb=$(ps -o rss= -p "$pid" | tr -d ' ')
  echo "{\"backend\": \"$backend\", \"op\": \"start to ready\", \"ms\": $ready_ms, \"idle_rss_mb\": $((rss_kb / 1024))}" | record
  TOKEN=$(curl -s -X POST "http://127.0.0.1:$PORT/v1/auth/token" -H 'content-type: application/json' \
    -d "{\"email\": \"$email\", \"password\": \"bench-password-0123456789\"}" | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')
  export TOKEN
  create_load_products "http://127.0.0.1:$PORT" "$TOKEN"
  if [ "$backend" = postgres ]; then
    psql -qAt "$url" -c "SELECT id FROM contacts LIMIT 2000" >"$OUT/contacts.txt"
    psql -qAt "$url" -c "SELECT id FROM companies LIMIT 2000" >"$OUT/companies.txt"
  else
    sqlite3 "${url#sqlite://}" "SELECT id FROM contacts LIMIT 2000" >"$OUT/contacts.txt"
    sqlite3 "${url#sqlite://}" "SELECT id FROM companies LIMIT 2000" >"$OUT/companies.txt"
  fi
  export CONTACT_IDS=$OUT/contacts.txt COMPANY_IDS=$OUT/companies.txt
  for scenario in $SCENARIOS; do
    wrk_run "$scenario" "$backend" "http://127.0.0.1:$PORT"
  done
  if [ -n "${BENCH_PROFILE:-}" ] && [ "$backend" = "$BENCH_PROFILE" ]; then
    perf record -F 499 -g -p "$pid" -o "$OUT/perf-$backend.data" -- sleep "$SECONDS_PER_OP" >/dev/null 2>&1 &
    wrk_run get_contact "$backend-profiled" "http://127.0.0.1:$PORT"
    wait
  fi
  kill "$pid"
  wait "$pid" 2>/dev/null || true
  "$LOAD" rawdb --url "${url#sqlite://}" --seconds "$SECONDS_PER_OP" --threads 4 |
    sed "s/^{/{\"backend\": \"$backend\", /" | record
}

# PostgreSQL
if [[ " $BACKENDS " == *" postgres "* ]]; then
  psql -q "$PG_ADMIN" -c "DROP DATABASE IF EXISTS $PG_DB" -c "CREATE DATABASE $PG_DB"
  bench_api postgres "$PG_URL"
  psql -q "$PG_URL" -c "CREATE TABLE bench_ids AS SELECT row_number() OVER () AS n, id FROM contacts LIMIT 2000" \
    -c "ALTER TABLE bench_ids ADD PRIMARY KEY (n)"
  for script in select insert; do
    pgbench -n -c 4 -j 2 -T "$SECONDS_PER_OP" -f "$ROOT/tests/bench/pgbench/$script.sql" "$PG_URL" 2>/dev/null |
      awk -v op="pgbench $script" '/^tps/ {tps=$3} /^latency average/ {lat=$4} END {printf "{\"backend\": \"postgres\", \"op\": \"%s\", \"per_second\": %.0f, \"avg_ms\": %s}\n", op, tps, lat}' | record
  done
  if [ -x "${DIRECTUS_HOME:-/tmp/directus}/node_modules/.bin/directus" ]; then
    "$ROOT/tests/bench/directus.sh" "$PG_URL" "$OUT" | record
  fi
fi

# SQLite
if [[ " $BACKENDS " == *" sqlite "* ]]; then
  rm -rf "$OUT/sqlite" && mkdir -p "$OUT/sqlite"
  bench_api sqlite "sqlite://$OUT/sqlite/crm.db"
fi

# The HTTP floor
"$LOAD" floor --bind 127.0.0.1:8090 &
FLOOR=$!
wait_ready http://127.0.0.1:8090/
wrk_run floor floor http://127.0.0.1:8090
kill "$FLOOR"

psql -q "$PG_ADMIN" -c "DROP DATABASE IF EXISTS $PG_DB"
python3 "$ROOT/tests/bench/table.py" "$RESULTS"
