#!/usr/bin/env bash
# Builds promtool and prometheus from github.com/prometheus/prometheus (see go.mod): `promtool check
# rules` and `promtool test rules` run the shipped PrometheusRule (config/monitoring) in
# test/integration/monitoring.test.ts; the server scrapes the function with the configuration
# prometheus-operator generates from the shipped PodMonitor (test/prometheus-operator). Prints the
# folder as its only stdout line.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
source "$here/../../scripts/go-build-cache.sh"

names=(promtool prometheus)
complete() { for n in "${names[@]}"; do [[ -x "$1/$n" ]] || return 1; done; }

# remove_all_sd leaves out the optional service discoveries (Prometheus's README; the plugins/
# files carry the tags), so the cloud SDKs are not compiled. promtool imports file and
# kubernetes discovery itself, so they stay; enable_kubernetes_sd keeps kubernetes_sd_configs in the
# server (file_sd is not a plugin). No builtinassets: that tag embeds the web UI, which the module
# does not ship (npm builds it); without it the server looks for the UI's files under its working
# folder at run time, finds none, and answers its pages 500; the HTTP API (/api/v1) is unaffected.
tags="remove_all_sd,enable_kubernetes_sd"

cd "$here"
# build.sh is in the key too: it picks the tags and the flags.
cache_begin prometheus go.mod go.sum build.sh tools.go
# The version as Prometheus's own build stamps it, so `--version` names the module's.
version="-X github.com/prometheus/common/version.Version=$(go list -m -f '{{.Version}}' github.com/prometheus/prometheus)"
cache_step "${names[*]} (cold: ~5 min)" env CGO_ENABLED=0 go build -trimpath -tags "$tags" -ldflags "-s -w $version" -o "$tmp/" \
  github.com/prometheus/prometheus/cmd/promtool github.com/prometheus/prometheus/cmd/prometheus
cache_finish
echo "$dir"
