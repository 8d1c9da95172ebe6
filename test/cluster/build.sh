#!/usr/bin/env bash
# Builds kube-apiserver, kube-controller-manager, kube-scheduler, kubectl and etcd from this Go
# module (see README.md) and prints the folder holding them as the only line on stdout. A cold
# build takes 7-15 min on 2 cores.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
source "$here/../../scripts/go-build-cache.sh"

binaries=(kube-apiserver kube-controller-manager kube-scheduler kubectl etcd)
complete() { for b in "${binaries[@]}"; do [[ -x "$1/$b" ]] || return 1; done; }

cd "$here"
# build.sh is in the key too: its flags shape the binaries.
cache_begin cluster go.mod go.sum etcd/main.go build.sh
ldflags="-s -w -X k8s.io/component-base/version.gitVersion=v1.34.2 -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=34"
build() { CGO_ENABLED=0 go build -trimpath -buildvcs=false -ldflags "$ldflags" -o "$tmp/$1" "$2"; }
cache_step kube-apiserver build kube-apiserver k8s.io/kubernetes/cmd/kube-apiserver
cache_step kube-controller-manager build kube-controller-manager k8s.io/kubernetes/cmd/kube-controller-manager
cache_step kube-scheduler build kube-scheduler k8s.io/kubernetes/cmd/kube-scheduler
cache_step kubectl build kubectl k8s.io/kubernetes/cmd/kubectl
cache_step etcd build etcd ./etcd
cache_finish
echo "$dir"
