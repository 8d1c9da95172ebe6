#!/usr/bin/env bash
# Builds funcyaml (main.go: loads func.yaml with knative.dev/func's own loader, see go.mod) and
# copies kn func's JSON schema for func.yaml (schema/func_yaml-schema.json of the same module)
# next to it. Prints the binary's path as its only stdout line; progress goes to stderr.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cache="${ADVANCE_PHASE_CACHE:-$(cd "$here/../.." && pwd)/.cache}"
log() { echo "funcyaml: $*" >&2; }
die() { log "error: $*"; exit 1; }

command -v go >/dev/null || die "go is not on PATH (knative.dev/func v0.50.1 needs Go >= 1.26)"

key="$(cat "$here/go.mod" "$here/go.sum" "$here/main.go" | sha256sum | cut -c1-12)"
dir="$cache/bin/funcyaml-$key"
bin="$dir/funcyaml"
schema="$dir/func_yaml-schema.json"

if [[ -x "$bin" && -s "$schema" ]]; then
  log "cached: $bin"
  echo "$bin"
  exit 0
fi

# Build into a private folder and rename it into place at the end, so an interrupted build
# never looks cached.
mkdir -p "$cache/bin"
tmp="$(mktemp -d "$cache/bin/.funcyaml-$key.XXXXXX")"
chmod 755 "$tmp"
gb=""
trap 'kill $gb 2>/dev/null || true; rm -rf "$tmp"' EXIT
trap 'exit 143' INT TERM
start=$SECONDS
log "building knative.dev/func/pkg/functions v0.50.1 and main.go (cold: ~1-2 min on 2 cores)"

cd "$here"
# In the background, so that a signal stops it at once (bash defers traps until a foreground
# command ends).
CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o "$tmp/funcyaml" . >&2 &
gb=$!
wait "$gb" || die "go build failed after $((SECONDS - start)) s (output above)"
gb=""
[[ -x "$tmp/funcyaml" ]] || die "go build did not produce $tmp/funcyaml"

src="$(go list -m -f '{{.Dir}}' knative.dev/func)"
[[ -s "$src/schema/func_yaml-schema.json" ]] || die "no schema/func_yaml-schema.json in $src"
cp "$src/schema/func_yaml-schema.json" "$tmp/func_yaml-schema.json"
chmod 644 "$tmp/func_yaml-schema.json"

rm -rf "$dir"
mv "$tmp" "$dir"
log "done in $((SECONDS - start)) s ($(du -m "$bin" | cut -f1) MB): $bin"
echo "$bin"
