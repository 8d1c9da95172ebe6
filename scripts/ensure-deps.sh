#!/usr/bin/env bash
# Installs node_modules from the lock file when they are missing or older than it, so that
# `npm test`, `npm run demo` and the rest work on a fresh clone without a separate install step.
# `npm ci`, as the Paketo buildpack runs it: a lock that drifts from package.json fails here too.
# The install brings the project's Node (the `node` devDependency) into node_modules/.bin, which
# npm scripts put first on PATH: whatever Node runs npm itself, the scripts run on that one.
set -euo pipefail
cd "$(dirname "$0")/.."
stamp=node_modules/.package-lock.json
if [ ! -f "$stamp" ] || [ package-lock.json -nt "$stamp" ] || [ package.json -nt "$stamp" ]; then
  echo "installing npm dependencies (npm ci)..." >&2
  npm ci --no-audit --no-fund >&2
fi
