#!/usr/bin/env bash
# `make bench-rebuild`: `crm analytics rebuild` from scratch on a fresh PostgreSQL database
# loaded by the demo generator, timed and with its peak RSS (GNU time), twice. Not in CI.
# Environment: BENCH_POSTGRES_URL (default the local server), BENCH_COMPANIES (100000) and
# BENCH_ORDERS (2000000, about 10M order lines). The load takes about 9 minutes at that size.
set -euo pipefail
cd "$(dirname "$0")/../.."
ADMIN=${BENCH_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/postgres}
DATABASE=crm_bench_rebuild
COMPANIES=${BENCH_COMPANIES:-100000}
ORDERS=${BENCH_ORDERS:-2000000}
CRM=$PWD/target/release/crm
DATA=$(mktemp -d)
trap 'rm -rf "$DATA"; psql -q "$ADMIN" -c "DROP DATABASE IF EXISTS $DATABASE"' EXIT
command -v /usr/bin/time >/dev/null || apt-get install -y -qq time >/dev/null
psql -q "$ADMIN" -c "DROP DATABASE IF EXISTS $DATABASE" -c "CREATE DATABASE $DATABASE"
export CRM_DATABASE_URL=${ADMIN%/*}/$DATABASE CRM_DATA_DIR=$DATA RUST_LOG=warn
"$CRM" migrate >/dev/null
"$CRM" demo-data --companies "$COMPANIES" --orders "$ORDERS" --seed 1 | grep -E "orders|lines"
lines=$(psql -qAt "$CRM_DATABASE_URL" -c "SELECT COUNT(*) FROM order_lines")
for run in 1 2; do
  /usr/bin/time -f "%e %M" -o "$DATA/time" "$CRM" analytics rebuild >"$DATA/out"
  read -r seconds peak_kb <"$DATA/time"
  rows=$(grep -o '[0-9]*' "$DATA/out" | head -1)
  awk -v run="$run" -v lines="$lines" -v rows="$rows" -v s="$seconds" -v kb="$peak_kb" \
    'BEGIN { printf "{\"run\": %d, \"order_lines\": %d, \"rows_written\": %d, \"seconds\": %.1f, \"peak_rss_mb\": %.1f}\n", run, lines, rows, s, kb / 1024 }'
done
