#!/usr/bin/env bash
# Reads the output of `cargo test` and says how many black-box tests passed on each backend, and
# how many PostgreSQL ones were skipped. Usage: summary.sh LOG
set -euo pipefail
count() { grep -cE "$1" "$LOG" || true; }
LOG=$1
sqlite=$(count '::sqlite \.\.\. ok$')
postgres=$(count '::postgres \.\.\. ok$')
skipped=$(count '::postgres \.\.\. ignored')
pgbouncer=$(count '::pgbouncer \.\.\. ok$')
replica=$(count '^test replicas::\w+ \.\.\. ok$')
failed=$(count '(::(sqlite|postgres|pgbouncer)|^test replicas::\w+) \.\.\. FAILED$')
line="black-box tests passed: $sqlite on SQLite, $postgres on PostgreSQL, $pgbouncer through PgBouncer, $replica against a replica"
[ "$skipped" -gt 0 ] && line="$line; $skipped PostgreSQL tests skipped (CRM_TEST_POSTGRES_URL not set)"
bouncer_skipped=$(count '::pgbouncer \.\.\. ignored')
[ "$bouncer_skipped" -gt 0 ] && line="$line; $bouncer_skipped PgBouncer tests skipped (no /usr/sbin/pgbouncer, or no PostgreSQL)"
replica_skipped=$(count '^test replicas::\w+ \.\.\. ignored')
[ "$replica_skipped" -gt 0 ] && line="$line; $replica_skipped replica tests skipped (no PostgreSQL server binaries)"
[ "$failed" -gt 0 ] && line="$line; $failed failed"
echo "$line"
