#!/usr/bin/env bash
# Lints openapi/openapi.json with Redocly (recommended) and Spectral (spectral:oas); any error
# or warning fails, except those switched off with a reason in redocly.yaml / .spectral.yaml.
set -euo pipefail
cd "$(dirname "$0")"
REDOCLY=$(npx --no-install redocly lint ../../openapi/openapi.json --config redocly.yaml --format=summary 2>&1 | grep -v "npm warn")
echo "$REDOCLY" | grep -E "valid|error|warning" || true
echo "$REDOCLY" | grep -q "Your API description is valid" || { echo "FAIL: Redocly found problems"; exit 1; }
npx --no-install spectral lint ../../openapi/openapi.json --ruleset .spectral.yaml --fail-severity=warn 2>&1 | grep -v "npm warn"
