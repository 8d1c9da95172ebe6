#!/usr/bin/env bash
# Builds prometheus-operator-config (main.go; see its opening comment): the prometheus.yaml and rule
# files prometheus-operator generates from the shipped PodMonitor and PrometheusRule
# (config/monitoring), with the operator's own code (version pinned in go.mod), so that a Prometheus
# run on the host scrapes and evaluates as the operator would make it. Prints the binary's path as
# its only stdout line.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
source "$here/../../scripts/go-build-cache.sh"
cd "$here"
build_module_binary prometheus-operator-config "prometheus-operator-config (cold: ~3 min)"
