#!/usr/bin/env bash
# Builds Knative Eventing's binaries from knative.dev/eventing (see go.mod), data plane and control
# plane, and assembles the module's release manifests next to them. Prints the folder as its only
# stdout line.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
source "$here/../../scripts/go-build-cache.sh"

names=(apiserver_receive_adapter broker_ingress broker_filter channel_dispatcher mtping controller webhook mtchannel_broker channel_controller)
complete() { for n in "${names[@]}"; do [[ -x "$1/$n" ]] || return 1; done; [[ -d "$1/yaml/release" ]]; }

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

src="$(go list -m -f '{{.Dir}}' knative.dev/eventing)"

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
