#!/usr/bin/env bash
# Builds funcyaml (main.go: loads func.yaml with knative.dev/func's own loader, see go.mod) and
# copies kn func's JSON schema for func.yaml (schema/func_yaml-schema.json of the same module)
# next to it. Prints the binary's path as its only stdout line.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
source "$here/../../scripts/go-build-cache.sh"

complete() { [[ -x "$1/funcyaml" && -s "$1/func_yaml-schema.json" ]]; }
result=/funcyaml

cd "$here"
cache_begin funcyaml go.mod go.sum main.go build.sh
cache_step "knative.dev/func/pkg/functions v0.50.1 and main.go (cold: ~1-2 min)" \
  env CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o "$tmp/funcyaml" .
src="$(go list -m -f '{{.Dir}}' knative.dev/func)"
[[ -s "$src/schema/func_yaml-schema.json" ]] || die "no schema/func_yaml-schema.json in $src"
cp "$src/schema/func_yaml-schema.json" "$tmp/func_yaml-schema.json"
chmod 644 "$tmp/func_yaml-schema.json"
cache_finish
echo "$dir$result"
