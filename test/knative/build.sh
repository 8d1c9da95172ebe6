#!/usr/bin/env bash
# Builds Knative Eventing's binaries from knative.dev/eventing (see go.mod), data plane and control
# plane, and copies the module's CRDs, ConfigMaps and release manifests next to them. Prints the
# folder as its only stdout line.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
source "$here/../../scripts/go-build-cache.sh"

names=(apiserver_receive_adapter broker_ingress broker_filter channel_dispatcher mtping controller webhook mtchannel_broker channel_controller)
complete() { for n in "${names[@]}"; do [[ -x "$1/$n" ]] || return 1; done; [[ -d "$1/yaml/crds" && -d "$1/yaml/release" ]]; }

cd "$here"
# build.sh is in the key too: it picks the flags and the YAML files.
cache_begin knative go.mod go.sum build.sh
# One `go build` compiles the shared dependencies once; with -o <dir>/ each binary is named
# after the last element of its package path, so ingress and filter are renamed below.
cache_step "${names[*]} (cold: ~6 min)" env CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o "$tmp/" \
  knative.dev/eventing/cmd/apiserver_receive_adapter \
  knative.dev/eventing/cmd/broker/ingress \
  knative.dev/eventing/cmd/broker/filter \
  knative.dev/eventing/cmd/in_memory/channel_dispatcher \
  knative.dev/eventing/cmd/mtping \
  knative.dev/eventing/cmd/controller \
  knative.dev/eventing/cmd/webhook \
  knative.dev/eventing/cmd/mtchannel_broker \
  knative.dev/eventing/cmd/in_memory/channel_controller
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

# The release as hack/generate-yamls.sh assembles it (core, the MT channel-based broker, the
# in-memory channel), one folder each, numbered in apply order. The module's zip drops symlinks:
# config/brokers/mt-channel-broker/ holds only links into its roles/ and deployments/, which
# together name every file there, so those two folders stand for it. Left out: the two image
# ConfigMaps that are links into third_party/ (the harness writes them, see its install step),
# job-sink and request-reply (no Action path uses them; their binaries are not built) and the
# HorizontalPodAutoscalers (nothing serves metrics here).
release="$tmp/yaml/release"
mkdir -p "$release/20-mt-channel-broker"
cp -R "$src/config/core" "$release/10-core"
cp -R "$src/config/channels/in-memory-channel" "$release/30-in-memory-channel"
cp "$src/config/brokers/mt-channel-broker/roles/"*.yaml "$src/config/brokers/mt-channel-broker/deployments/"*.yaml "$release/20-mt-channel-broker/"
find "$release" -type f ! -name '*.yaml' -delete
rm "$release/10-core/deployments/job-sink.yaml" "$release/10-core/deployments/request-reply.yaml" \
  "$release/10-core/deployments/webhook-hpa.yaml" "$release/20-mt-channel-broker/hpa.yaml"
chmod -R u+w,go+r "$tmp/yaml"
cache_finish
echo "$dir"
