#!/usr/bin/env bash
# Builds the controller-runtime peer (see README.md). Prints the binary's path as its only
# stdout line; progress goes to stderr.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cache="${ADVANCE_PHASE_CACHE:-$(cd "$here/../.." && pwd)/.cache}"
log() { echo "peer: $*" >&2; }
die() { log "error: $*"; exit 1; }

command -v go >/dev/null || die "go is not on PATH (Go >= 1.25 is needed)"

# Everything that goes into the binary: the module files, every Go source (names too, so a
# moved file is a new key) and build.sh itself, which picks the flags.
cd "$here"
key="$(
  { cat go.mod go.sum build.sh
    find . -name '*.go' -type f | LC_ALL=C sort | while read -r f; do echo "$f"; cat "$f"; done
  } | sha256sum | cut -c1-12
)"
dir="$cache/bin/peer-$key"
bin="$dir/peer"

if [[ -x "$bin" ]]; then
  log "cached: $bin"
  echo "$bin"
  exit 0
fi

# Build into a private folder and rename it into place at the end, so an interrupted build
# never looks cached.
mkdir -p "$cache/bin"
tmp="$(mktemp -d "$cache/bin/.peer-$key.XXXXXX")"
chmod 755 "$tmp"
beat="" gb=""
trap 'kill $beat $gb 2>/dev/null || true; rm -rf "$tmp"' EXIT
trap 'exit 143' INT TERM
start=$SECONDS
log "building (cold: ~4 min on 2 cores)"
# Heartbeat; it kills its own sleep, which would otherwise hold stderr open for a caller.
(
  t0=$(date +%s)
  trap 'kill "$s" 2>/dev/null; exit 0' TERM
  while :; do
    sleep 30 & s=$!
    wait "$s"
    log "still building ($(($(date +%s) - t0)) s)"
  done
) &
beat=$!

# In the background, so that a signal stops it at once (bash defers traps until a foreground
# command ends).
CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o "$tmp/peer" . &
gb=$!
wait "$gb" || die "go build failed after $((SECONDS - start)) s (output above)"
gb=""
kill "$beat" 2>/dev/null || true; beat=""
[[ -x "$tmp/peer" ]] || die "go build did not produce $tmp/peer"
log "built peer ($(du -m "$tmp/peer" | cut -f1) MB)"

rm -rf "$dir"
mv "$tmp" "$dir"
log "done in $((SECONDS - start)) s: $bin"
echo "$bin"
