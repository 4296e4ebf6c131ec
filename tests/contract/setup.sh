#!/usr/bin/env bash
# Installs the pinned contract tools: npm packages from package-lock.json, Python ones from
# requirements.txt.
set -euo pipefail
cd "$(dirname "$0")"
npm ci --no-audit --no-fund --loglevel=error
[ -x .venv/bin/st ] || python3 -m venv .venv
.venv/bin/pip install -q -r requirements.txt
