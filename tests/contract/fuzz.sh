#!/usr/bin/env bash
# Fuzzes a live `crm serve` with Schemathesis against openapi/openapi.json, every phase
# (examples, coverage, fuzzing, stateful) and every check: no 5xx, responses and status codes
# as documented, schema-valid requests taken and schema-violating ones refused, and the rest.
# Usage: fuzz.sh [database URL]; FUZZ_SEED picks another seed.
set -euo pipefail
cd "$(dirname "$0")"
ROOT=$(cd ../.. && pwd)
# Schemathesis calls far faster than any budget allows.
export CRM_ACCESS_TOKEN_TTL_SECONDS=7200 CRM_RATE_LIMIT_PER_MINUTE=0
source ./serve.sh
start_crm fuzz fuzz@example.com "a long fuzzing passphrase" "${1:-}"
TOKEN=$(admin_token fuzz@example.com "a long fuzzing passphrase")
python3 seed.py "$BASE" "$TOKEN"

fuzz() {
  .venv/bin/st run "$ROOT/openapi/openapi.json" --url "$BASE" \
    -H "Authorization: Bearer $TOKEN" \
    --checks "${FUZZ_CHECKS:-all}" --phases examples,coverage,fuzzing,stateful \
    --max-examples "${FUZZ_MAX_EXAMPLES:-10}" --seed "${FUZZ_SEED:-20261123}" --workers 1 --generation-database none \
    --report junit --report-dir "$WORK/report" ${FUZZ_EXTRA:-} | tee "$WORK/fuzz.log"
  return "${PIPESTATUS[0]}"
}
set +e
fuzz
STATUS=$?
# Hypothesis sometimes crashes while describing a lambda ("AST constructor recursion depth
# mismatch"), an error of the tool with no finding against the API. Run once more in that case
# only; any real failure fails at once.
if [ "$STATUS" -ne 0 ] && grep -q "Runtime Error" "$WORK/fuzz.log" && ! grep -q "^Failures:" "$WORK/fuzz.log"; then
  echo "schemathesis itself errored without findings; running once more"
  fuzz
  STATUS=$?
fi
set -e
SPEC_OPERATIONS=$(python3 -c "import json; d=json.load(open('$ROOT/openapi/openapi.json')); print(sum(1 for p in d['paths'].values() for m in p if m in ('get','post','put','patch','delete')))")
TESTED=$(sed -n 's/^ *Tested: *\([0-9]*\).*/\1/p' "$WORK/fuzz.log" | tail -n 1)
CASES=$(sed -n 's/^ *\([0-9]*\) generated.*/\1/p' "$WORK/fuzz.log" | tail -n 1)
echo "fuzz summary: ${CASES:-0} cases, ${TESTED:-0} of $SPEC_OPERATIONS operations tested"
if [ "$STATUS" -ne 0 ]; then echo "FAIL: schemathesis found problems"; exit 1; fi
if [ "${TESTED:-0}" -ne "$SPEC_OPERATIONS" ]; then echo "FAIL: not every operation was tested"; exit 1; fi
if [ "${CASES:-0}" -lt 2000 ]; then echo "FAIL: fewer than 2000 cases"; exit 1; fi
