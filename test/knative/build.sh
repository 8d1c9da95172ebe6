#!/usr/bin/env bash
# Builds Knative Eventing's data-plane binaries from knative.dev/eventing (see go.mod) and copies
# the module's CRDs and ConfigMaps next to them. Prints the folder as its only stdout line.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
source "$here/../../scripts/go-build-cache.sh"

names=(apiserver_receive_adapter broker_ingress broker_filter channel_dispatcher mtping)
complete() { for n in "${names[@]}"; do [[ -x "$1/$n" ]] || return 1; done; [[ -d "$1/yaml/crds" ]]; }

cd "$here"
# build.sh is in the key too: it picks the flags and the YAML files.
cache_begin knative go.mod go.sum build.sh
# One `go build` compiles the shared dependencies once; with -o <dir>/ each binary is named
# after the last element of its package path, so ingress and filter are renamed below.
cache_step "${names[*]} (cold: ~5 min)" env CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o "$tmp/" \
  knative.dev/eventing/cmd/apiserver_receive_adapter \
  knative.dev/eventing/cmd/broker/ingress \
  knative.dev/eventing/cmd/broker/filter \
  knative.dev/eventing/cmd/in_memory/channel_dispatcher \
  knative.dev/eventing/cmd/mtping
mv "$tmp/ingress" "$tmp/broker_ingress"
mv "$tmp/filter" "$tmp/broker_filter"

# The CRDs the binaries' informers list (brokers, triggers, subscriptions, eventpolicies,
# eventtypes, inmemorychannels, pingsources) plus apiserversources, and the ConfigMaps they read
# (see NOTES.md). Plain YAML: no Go templates or ko:// images. The ConfigMaps name namespace
# knative-eventing.
src="$(go list -m -f '{{.Dir}}' knative.dev/eventing)"
mkdir -p "$tmp/yaml/crds" "$tmp/yaml/configmaps"
for r in apiserversource broker trigger pingsource subscription eventtype eventpolicy; do
  cp "$src/config/core/resources/$r.yaml" "$tmp/yaml/crds/"
done
cp "$src/config/channels/in-memory-channel/resources/in-memory-channel.yaml" "$tmp/yaml/crds/"
for c in features logging observability; do
  cp "$src/config/core/configmaps/$c.yaml" "$tmp/yaml/configmaps/"
done
chmod -R u+w,go+r "$tmp/yaml"
cache_finish
echo "$dir"
