#!/usr/bin/env bash
# Builds Knative Serving's binaries from knative.dev/serving (see go.mod), control plane and data
# plane, and assembles the module's release manifests next to them. Prints the folder as its only
# stdout line.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
source "$here/../../scripts/go-build-cache.sh"

names=(controller webhook autoscaler activator queue)
complete() {
  for n in "${names[@]}"; do [[ -x "$1/$n" ]] || return 1; done
  [[ -f "$1/yaml/release/10-core/configmaps/network.yaml" ]]
}

cd "$here"
# build.sh is in the key too: it picks the flags and the YAML files.
cache_begin serving go.mod go.sum build.sh
# One `go build` compiles the shared dependencies once; with -o <dir>/ each binary is named
# after the last element of its package path.
cache_step "${names[*]} (cold: ~9 min)" env CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o "$tmp/" \
  knative.dev/serving/cmd/controller \
  knative.dev/serving/cmd/webhook \
  knative.dev/serving/cmd/autoscaler \
  knative.dev/serving/cmd/activator \
  knative.dev/serving/cmd/queue

src="$(go list -m -f '{{.Dir}}' knative.dev/serving)"
networking="$(go list -m -f '{{.Dir}}' knative.dev/networking)"
caching="$(go list -m -f '{{.Dir}}' knative.dev/caching)"

# The release's serving-core.yaml as hack/generate-yamls.sh assembles it (`ko resolve -R -f
# config/core`), in one folder, 10-core. Six files there are symlinks into vendor/, which the
# module's zip drops; they are copied from the modules serving's go.mod pins (the ones
# `go mod vendor` would have put behind the links): from knative.dev/networking the
# config-network ConfigMap (the controller exits at start without it) and the Ingress,
# ServerlessService, Certificate and ClusterDomainClaim CRDs, from knative.dev/caching the Image
# CRD (the revision reconciler watches and writes Images). Left out: the HorizontalPodAutoscalers
# and the PodDisruptionBudgets in the same two files (nothing serves metrics or evicts pods
# here), 999-cache.yaml (an Image of queue-proxy, only for an image-caching controller, which
# nothing here runs) and 300-knativecertificate.yaml (a Certificate of the cert-manager class,
# for system-internal TLS, which only net-certmanager reconciles). Not part of serving-core, so
# not here either: the post-install jobs (default-domain, storage-version-migration, cleanup;
# their binaries are not built) and config/hpa-autoscaling (the HPA-class autoscaler).
release="$tmp/yaml/release"
core="$release/10-core"
mkdir -p "$release"
cp -R "$src/config/core" "$core"
chmod -R u+w "$core"
cp "$networking/config/config-network.yaml" "$core/configmaps/network.yaml"
for crd in certificate domain-claim ingress serverlessservice; do
  cp "$networking/config/$crd.yaml" "$core/300-resources/$crd.yaml"
done
cp "$caching/config/image.yaml" "$core/300-imagecache.yaml"
find "$release" -type f ! -name '*.yaml' -delete
rm "$core/deployments/activator-hpa.yaml" "$core/deployments/webhook-hpa.yaml" \
  "$core/999-cache.yaml" "$core/300-knativecertificate.yaml"
chmod -R u+w,go+r "$tmp/yaml"
cache_finish
echo "$dir"
