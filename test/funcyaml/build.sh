#!/usr/bin/env bash
# Builds funcyaml (main.go: loads func.yaml with knative.dev/func's own loader, see go.mod) and
# funcdeploy (funcdeploy/main.go: deploys a function with knative.dev/func's own Knative deployer)
# in one `go build`, and copies kn func's JSON schema for func.yaml
# (schema/func_yaml-schema.json of the same module) next to them. Prints funcyaml's path as its
# only stdout line; funcdeploy is the `funcdeploy` beside it.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
source "$here/../../scripts/go-build-cache.sh"

complete() { [[ -x "$1/funcyaml" && -x "$1/funcdeploy" && -s "$1/func_yaml-schema.json" ]]; }
result=/funcyaml

cd "$here"
cache_begin funcyaml go.mod go.sum main.go funcdeploy/main.go build.sh
# With -o a folder, each main package lands under its folder's name: funcyaml (the module root)
# and funcdeploy.
cache_step "knative.dev/func v0.50.1 pkg/functions + pkg/knative, main.go and funcdeploy/main.go (cold: ~10 min on 2 busy cores)" \
  env CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o "$tmp/" . ./funcdeploy
src="$(go list -m -f '{{.Dir}}' knative.dev/func)"
[[ -s "$src/schema/func_yaml-schema.json" ]] || die "no schema/func_yaml-schema.json in $src"
cp "$src/schema/func_yaml-schema.json" "$tmp/func_yaml-schema.json"
chmod 644 "$tmp/func_yaml-schema.json"
cache_finish
echo "$dir$result"
