#!/usr/bin/env bash
# Builds Knative Eventing's data-plane binaries from knative.dev/eventing (see go.mod) and copies
# the module's CRDs and ConfigMaps next to them. Prints the bin dir as its only stdout line;
# progress goes to stderr.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cache="${ADVANCE_PHASE_CACHE:-$(cd "$here/../.." && pwd)/.cache}"
log() { echo "knative: $*" >&2; }
die() { log "error: $*"; exit 1; }

command -v go >/dev/null || die "go is not on PATH (Go >= 1.24 is needed)"

# build.sh is in the key too: it picks the flags and the YAML files.
key="$(cat "$here/go.mod" "$here/go.sum" "$here/build.sh" | sha256sum | cut -c1-12)"
bin="$cache/bin/knative-$key"
names=(apiserver_receive_adapter broker_ingress broker_filter channel_dispatcher mtping)

complete() { for n in "${names[@]}"; do [[ -x "$1/$n" ]] || return 1; done; }

if complete "$bin"; then
  log "cached: $bin"
  echo "$bin"
  exit 0
fi

# Build into a private folder and rename it into place at the end, so an interrupted build
# never looks cached.
mkdir -p "$cache/bin"
tmp="$(mktemp -d "$cache/bin/.knative-$key.XXXXXX")"
chmod 755 "$tmp"
beat="" gb=""
trap 'kill $beat $gb 2>/dev/null || true; rm -rf "$tmp"' EXIT
trap 'exit 143' INT TERM
start=$SECONDS
log "building ${names[*]} (cold: ~5 min on 2 cores)"
# Heartbeat; it kills its own sleep, which would otherwise hold stderr open for a caller.
(
  t0=$(date +%s)
  trap 'kill "$s" 2>/dev/null; exit 0' TERM
  while :; do
    sleep 30 & s=$!
    wait "$s"
    log "still building ($(($(date +%s) - t0)) s)"
  done
) &
beat=$!

# One `go build` compiles the shared dependencies once; with -o <dir>/ each binary is named
# after the last element of its package path, so ingress and filter are renamed below.
# In the background, so that a signal stops it at once (bash defers traps until a foreground
# command ends).
cd "$here"
CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o "$tmp/" \
  knative.dev/eventing/cmd/apiserver_receive_adapter \
  knative.dev/eventing/cmd/broker/ingress \
  knative.dev/eventing/cmd/broker/filter \
  knative.dev/eventing/cmd/in_memory/channel_dispatcher \
  knative.dev/eventing/cmd/mtping &
gb=$!
wait "$gb" || die "go build failed after $((SECONDS - start)) s (output above)"
gb=""
kill "$beat" 2>/dev/null || true; beat=""
mv "$tmp/ingress" "$tmp/broker_ingress"
mv "$tmp/filter" "$tmp/broker_filter"
complete "$tmp" || die "go build did not produce all of: ${names[*]}"
for n in "${names[@]}"; do log "built $n ($(du -m "$tmp/$n" | cut -f1) MB)"; done

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

rm -rf "$bin"
mv "$tmp" "$bin"
log "done in $((SECONDS - start)) s: $bin"
echo "$bin"
