#!/usr/bin/env bash
# Builds kube-apiserver, kubectl and etcd from this Go module into a cache folder keyed by the
# module's inputs, and prints that folder as the only line on stdout. Progress goes to stderr,
# since a cold build takes 7-13 min on 2 cores.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
cache="${ADVANCE_PHASE_CACHE:-$repo/.cache}"

die() { echo "build.sh: $*" >&2; exit 1; }
command -v go >/dev/null || die "go is not on PATH; install Go >= 1.25"

# build.sh is in the key too: its flags shape the binaries.
key="$(cat "$here/go.mod" "$here/go.sum" "$here/etcd/main.go" "$here/build.sh" | sha256sum | cut -c1-12)"
bin="$cache/bin/cluster-$key"
binaries=(kube-apiserver kubectl etcd)

complete() { for b in "${binaries[@]}"; do [[ -x "$1/$b" ]] || return 1; done; }

if complete "$bin"; then
  echo "build.sh: cached $bin" >&2
  echo "$bin"
  exit 0
fi

# Build into a temporary folder and rename it into place at the end, so an interrupted build
# never looks cached.
mkdir -p "$cache/bin"
tmp="$(mktemp -d "$cache/bin/.cluster-$key.XXXXXX")"
chmod 755 "$tmp" # mktemp makes it private; the binaries are for anyone on the machine
beat=""
trap '[[ -z "$beat" ]] || kill "$beat" 2>/dev/null; rm -rf "$tmp"' EXIT
trap 'exit 143' INT TERM

ldflags="-s -w -X k8s.io/component-base/version.gitVersion=v1.34.2 -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=34"
start=$SECONDS
build() { # name package
  local t0=$SECONDS
  echo "build.sh: building $1 ($(go version | cut -d' ' -f3))..." >&2
  # A heartbeat, so a silent multi-minute compile does not look hung.
  ( while sleep 30 >/dev/null 2>&1; do echo "build.sh:   $1 still building, $((SECONDS - t0)) s" >&2; done ) &
  beat=$!
  local rc=0
  (cd "$here" && CGO_ENABLED=0 go build -trimpath -buildvcs=false -ldflags "$ldflags" -o "$tmp/$1" "$2") || rc=$?
  kill "$beat" 2>/dev/null; wait "$beat" 2>/dev/null || true; beat=""
  [[ $rc -eq 0 ]] || die "building $1 failed (exit $rc)"
  echo "build.sh: built $1 in $((SECONDS - t0)) s" >&2
}
build kube-apiserver k8s.io/kubernetes/cmd/kube-apiserver
build kubectl k8s.io/kubernetes/cmd/kubectl
build etcd ./etcd

# Another build may have won the race; its result is as good as ours.
mv -T "$tmp" "$bin" 2>/dev/null || complete "$bin" || die "could not move $tmp to $bin"
echo "build.sh: all built in $((SECONDS - start)) s into $bin" >&2
echo "$bin"
