#!/usr/bin/env bash
# Builds funcyaml (main.go: loads func.yaml with knative.dev/func's own loader, see go.mod),
# funcdeploy (funcdeploy/main.go: deploys a function with knative.dev/func's own Knative deployer)
# and funcinvoke (funcinvoke/main.go: `kn func invoke` over knative.dev/func's own Client.Invoke)
# in one `go build`, and copies kn func's JSON schema for func.yaml
# (schema/func_yaml-schema.json of the same module) next to them. Prints funcyaml's path as its
# only stdout line; funcdeploy and funcinvoke are beside it.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
source "$here/../../scripts/go-build-cache.sh"

complete() { [[ -x "$1/funcyaml" && -x "$1/funcdeploy" && -x "$1/funcinvoke" && -s "$1/func_yaml-schema.json" ]]; }
result=/funcyaml

cd "$here"
cache_begin funcyaml go.mod go.sum main.go funcdeploy/main.go funcinvoke/main.go build.sh
# With -o a folder, each main package lands under its folder's name: funcyaml (the module root),
# funcdeploy and funcinvoke (which shares pkg/functions with funcyaml and pkg/http with funcdeploy,
# so it adds seconds, not minutes).
cache_step "knative.dev/func v0.50.1 pkg/functions + pkg/knative, main.go, funcdeploy/main.go and funcinvoke/main.go (cold: ~10 min on 2 busy cores)" \
  env CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o "$tmp/" . ./funcdeploy ./funcinvoke
src="$(go list -m -f '{{.Dir}}' knative.dev/func)"
[[ -s "$src/schema/func_yaml-schema.json" ]] || die "no schema/func_yaml-schema.json in $src"
cp "$src/schema/func_yaml-schema.json" "$tmp/func_yaml-schema.json"
chmod 644 "$tmp/func_yaml-schema.json"
cache_finish
echo "$dir$result"
