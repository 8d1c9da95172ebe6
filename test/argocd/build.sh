#!/usr/bin/env bash
# Builds argocd-health (main.go; see its opening comment for the Argo CD code it mirrors and go.mod
# for the interpreter it runs on). Prints the binary's path as its only stdout line.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
source "$here/../../scripts/go-build-cache.sh"
cd "$here"
build_module_binary argocd-health "argocd-health (cold: well under a minute)"
