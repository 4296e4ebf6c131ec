#!/usr/bin/env bash
# Reads the output of `cargo test` and says how many black-box tests passed on each backend, and
# how many PostgreSQL ones were skipped. Usage: summary.sh LOG
set -euo pipefail
count() { grep -cE "$1" "$LOG" || true; }
LOG=$1
sqlite=$(count '::sqlite \.\.\. ok$')
postgres=$(count '::postgres \.\.\. ok$')
skipped=$(count '::postgres \.\.\. ignored')
failed=$(count '::(sqlite|postgres) \.\.\. FAILED$')
line="black-box tests passed: $sqlite on SQLite, $postgres on PostgreSQL"
[ "$skipped" -gt 0 ] && line="$line; $skipped PostgreSQL tests skipped (CRM_TEST_POSTGRES_URL not set)"
[ "$failed" -gt 0 ] && line="$line; $failed failed"
echo "$line"
