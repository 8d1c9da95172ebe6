#!/usr/bin/env bash
# Builds promparse (main.go; see its opening comment and go.mod for the library it runs). Prints the
# binary's path as its only stdout line.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
source "$here/../../scripts/go-build-cache.sh"
cd "$here"
build_module_binary promparse "promparse (cold: well under a minute)"
