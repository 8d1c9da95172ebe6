#!/usr/bin/env bash
# Builds the controller-runtime peer (see README.md). Prints the binary's path as its only
# stdout line.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
source "$here/../../scripts/go-build-cache.sh"
cd "$here"
build_module_binary peer "peer (cold: ~4 min)"
