#!/usr/bin/env bash
# Installs node_modules from the lock file when they are missing or older than it, so that
# `npm test` and `npm run local` work on a fresh clone without a separate install step.
set -euo pipefail
cd "$(dirname "$0")/.."
stamp=node_modules/.package-lock.json
if [ ! -f "$stamp" ] || [ package-lock.json -nt "$stamp" ]; then
  echo "installing npm dependencies..." >&2
  # npm install, not npm ci: see .ci/run.
  npm install --no-audit --no-fund >&2
fi
