#!/usr/bin/env bash
# Start to ready and idle RSS of the release binary on an empty SQLite database, 2 s after
# ready, five runs. Extra arguments are environment settings to compare, such as
# MALLOC_ARENA_MAX=1 or CRM_WORKERS=1. Usage: tests/bench/idle.sh [NAME=VALUE...]
set -euo pipefail
BIN=${CRM_BIN:-target/release/crm}
PORT=8791
for run in 1 2 3 4 5; do
  DATA=$(mktemp -d)
  export CRM_DATABASE_URL=sqlite://$DATA/crm.db CRM_DATA_DIR=$DATA CRM_BIND=127.0.0.1:$PORT RUST_LOG=warn
  "$BIN" migrate >/dev/null
  started=$(date +%s%N)
  env "$@" "$BIN" serve --no-migrate >/dev/null 2>&1 &
  pid=$!
  for _ in $(seq 1 2000); do
    curl -sf -o /dev/null "http://127.0.0.1:$PORT/readyz" && break
    sleep 0.005
  done
  ready_ms=$((($(date +%s%N) - started) / 1000000))
  sleep 2
  rss_kb=$(awk '/VmRSS/ {print $2}' "/proc/$pid/status")
  anon_kb=$(awk '/RssAnon/ {print $2}' "/proc/$pid/status")
  file_kb=$(awk '/RssFile/ {print $2}' "/proc/$pid/status")
  kill "$pid"
  wait "$pid" 2>/dev/null || true
  rm -rf "$DATA"
  awk -v run="$run" -v settings="$*" -v ready="$ready_ms" -v rss="$rss_kb" -v anon="$anon_kb" -v file="$file_kb" \
    'BEGIN { printf "{\"run\": %d, \"settings\": \"%s\", \"start_to_ready_ms\": %d, \"idle_rss_mb\": %.1f, \"anon_mb\": %.1f, \"file_mb\": %.1f}\n", run, settings, ready, rss / 1024, anon / 1024, file / 1024 }'
done
