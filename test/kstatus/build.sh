#!/usr/bin/env bash
# Builds kstatus (main.go; see its opening comment and go.mod for the library it runs). Prints the
# binary's path as its only stdout line.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
source "$here/../../scripts/go-build-cache.sh"

complete() { [[ -x "$1/kstatus" ]]; }
result=/kstatus

cd "$here"
cache_begin kstatus go.mod go.sum main.go build.sh
cache_step "kstatus (cold: well under a minute)" env CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o "$tmp/kstatus" .
cache_finish
echo "$dir$result"
