#!/usr/bin/env bash
# What the test bed needs from this machine, checked in seconds before anything is built: root,
# Go and npm, the commands the node stand-ins run (ip, iptables), those the control plane's start
# runs (openssl, setpriv), and the kernel features they use (network namespaces, veth pairs, a
# bridge, iptables' nat table inside a namespace). `npm test`, `npm run demo`, `stack:up` and the
# bench run it first; `npm test` adds --tests: the unit layer also model-checks the protocol with
# Spin (test/model/), which needs spin and gcc.
#
#   bash scripts/setup-host.sh           installs missing Debian packages (apt-get, as root), then checks
#   bash scripts/setup-host.sh --check   only checks (the test bed's own start runs this)
#   bash scripts/setup-host.sh --tests   also spin and gcc, for the model check (with --check: only checks)
#
# A failure prints what is missing and the exact command that fixes it, and exits 1.
set -euo pipefail

install=true
tests=false
for arg in "$@"; do
  case "$arg" in
    --check) install=false ;;
    --tests) tests=true ;;
    *) echo "setup-host: unknown option $arg (--check, --tests)" >&2 && exit 2 ;;
  esac
done

fail() {
  echo "setup-host: $1" >&2
  echo "  to fix it: $2" >&2
  exit 1
}

[[ "$(id -u)" == 0 ]] ||
  fail "the test bed must run as root: it gives each process a network namespace of its own" \
    "run the command again as root (sudo -E env \"PATH=\$PATH\" npm test)"
command -v go >/dev/null ||
  fail "go is not on PATH: the control plane and Knative are built from their Go modules" \
    "install Go >= 1.26.7 (https://go.dev/doc/install) and put its bin folder on PATH"
command -v npm >/dev/null ||
  fail "npm is not on PATH: it installs the project's own Node" "apt-get install -y npm (any npm >= 10)"

# command -> the Debian package that ships it
declare -A package_of=([ip]=iproute2 [iptables]=iptables [openssl]=openssl [setpriv]=util-linux [spin]=spin [gcc]=gcc)
commands=(ip iptables openssl setpriv)
$tests && commands+=(spin gcc)
missing=()
for cmd in "${commands[@]}"; do
  command -v "$cmd" >/dev/null || missing+=("${package_of[$cmd]}")
done
if ((${#missing[@]})); then
  fix="apt-get update && apt-get install -y --no-install-recommends ${missing[*]}"
  if $install && command -v apt-get >/dev/null; then
    echo "setup-host: installing ${missing[*]} (apt-get)" >&2
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      "${missing[@]}" >/dev/null; } || fail "apt-get could not install ${missing[*]} (output above)" "$fix"
    hash -r
  else
    fail "missing commands, from the packages ${missing[*]}" "$fix"
  fi
fi

# The kernel features, tried in a throwaway namespace named outside the bed's ap- prefix, so a bed
# running meanwhile is neither disturbed nor mistaken for this.
probe="apchk-$$"
cleanup() {
  ip link delete "${probe}br" 2>/dev/null || true
  ip netns delete "$probe" 2>/dev/null || true
}
trap cleanup EXIT
try() { # try WHAT FIX CMD...: runs CMD, failing with its own error output
  local what="$1" fix="$2" out
  shift 2
  out="$("$@" 2>&1 >/dev/null)" || fail "$what: \`$*\` failed: ${out:-no output}" "$fix"
}
try "cannot create a network namespace" \
  "run as root on a kernel with network namespaces (CONFIG_NET_NS), outside a container that forbids them" \
  ip netns add "$probe"
try "cannot create a bridge" "modprobe bridge" ip link add "${probe}br" type bridge
try "cannot create a veth pair into a namespace" "modprobe veth" \
  ip link add "${probe}v" type veth peer name eth0 netns "$probe"
try "iptables has no nat table in a network namespace (kube-proxy's redirects need it)" \
  "modprobe iptable_nat (iptables-legacy) or modprobe nft_chain_nat (iptables-nft)" \
  ip netns exec "$probe" iptables -t nat -A OUTPUT -p tcp --dport 80 -j REDIRECT --to-ports 8080
