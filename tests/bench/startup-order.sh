#!/usr/bin/env bash
# Writes crates/crm/startup.order: the functions of the release binary that a node runs from
# start until 3 s after ready on an empty SQLite database, as callgrind sees them. The linker
# places them next to each other (crates/crm/build.rs), so that the code an idle node keeps
# resident is a few contiguous megabytes instead of 64 KB around every function start-up calls.
# Symbol names carry a hash of the crate's build settings, not of its source: the list stays
# valid across edits, and a function it no longer names is only placed wherever the linker
# would have put it. Rerun after a dependency or profile change. Needs valgrind.
# Usage: tests/bench/startup-order.sh
set -euo pipefail
BIN=${CRM_BIN:-target/release/crm}
OUT=crates/crm/startup.order
PORT=8792
DATA=$(mktemp -d)
trap 'rm -rf "$DATA"' EXIT
export CRM_DATABASE_URL=sqlite://$DATA/crm.db CRM_DATA_DIR=$DATA CRM_BIND=127.0.0.1:$PORT RUST_LOG=warn
"$BIN" migrate >/dev/null
valgrind --tool=callgrind --demangle=no --callgrind-out-file="$DATA/callgrind.out" \
  "$BIN" serve --no-migrate >/dev/null 2>&1 &
pid=$!
ready=no
for _ in $(seq 1 600); do
  if curl -sf -o /dev/null "http://127.0.0.1:$PORT/readyz"; then ready=yes; break; fi
  sleep 0.1
done
if [ "$ready" != yes ]; then
  kill "$pid" 2>/dev/null || true
  echo "the server did not become ready under callgrind" >&2
  exit 1
fi
sleep 3
kill -TERM "$pid"
wait "$pid" || true
# Callgrind names a function the first time it mentions it, `fn=(7) name` or `cfn=(7) name`,
# and by its number alone after that. Only the binary's own functions can be placed; sorted,
# so that a rerun changes only the lines of functions that came or went.
nm --defined-only "$BIN" | awk '{print $NF}' >"$DATA/defined"
sed -n -E 's/^c?fn=\([0-9]+\) (.+)$/\1/p' "$DATA"/callgrind.out* |
  awk 'NR == FNR { defined[$0] = 1; next } $0 in defined' "$DATA/defined" - | LC_ALL=C sort -u >"$OUT"
echo "$(wc -l <"$OUT") functions written to $OUT"
