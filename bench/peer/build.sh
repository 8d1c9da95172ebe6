#!/usr/bin/env bash
# Builds the controller-runtime peer (see README.md). Prints the binary's path as its only
# stdout line.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
source "$here/../../scripts/go-build-cache.sh"

complete() { [[ -x "$1/peer" ]]; }
result=/peer

cd "$here"
# Everything that goes into the binary: the module files, every Go source and build.sh itself.
mapfile -t sources < <(find . -name '*.go' -type f | LC_ALL=C sort)
cache_begin peer go.mod go.sum build.sh "${sources[@]}"
cache_step "peer (cold: ~4 min)" env CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o "$tmp/peer" .
cache_finish
echo "$dir$result"
