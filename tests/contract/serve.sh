# Sourced by the contract and client scripts: a live `crm serve` on a free loopback port, with
# one admin, on the database URL given or else a SQLite file of its own. CRM_BIN runs that binary
# instead of building target/debug/crm. Sets WORK (the server's data and log), BASE and SERVER;
# on exit the server stops and WORK is removed. Extra CRM_* settings are exported before.
# Usage: start_crm NAME EMAIL PASSPHRASE [DATABASE URL]

start_crm() {
  local name=$1 email=$2 passphrase=$3 root crm port
  root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
  WORK=$(mktemp -d)
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  BASE=http://127.0.0.1:$port
  export CRM_DATABASE_URL=${4:-sqlite://$WORK/$name.db} CRM_DATA_DIR=$WORK CRM_BIND=127.0.0.1:$port
  export CRM_JWT_SECRET=$name-secret-that-is-long-enough-0123456789 RUST_LOG=warn
  if [ -n "${CRM_BIN:-}" ]; then crm=$CRM_BIN; else (cd "$root" && cargo build -q -p crm); crm=$root/target/debug/crm; fi
  echo "$passphrase" | "$crm" user create --email "$email" --role admin --password-stdin > /dev/null
  "$crm" serve > "$WORK/server.log" 2>&1 &
  SERVER=$!
  trap 'kill $SERVER 2>/dev/null || true; rm -rf "$WORK"' EXIT
  for _ in $(seq 1 50); do curl -sf "$BASE/healthz" > /dev/null && break; sleep 0.2; done
}

# An access token of the admin that start_crm created.
admin_token() {
  curl -sf "$BASE/v1/auth/token" -H 'content-type: application/json' \
    -d "{\"email\":\"$1\",\"password\":\"$2\"}" | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])'
}
