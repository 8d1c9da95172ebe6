# Sourced by the build.sh of each Go module (test/cluster, test/knative, test/serving, test/funcyaml, test/kstatus, test/promparse,
# test/prometheus, test/prometheus-operator, test/argocd, bench/peer). A build lands in ${ADVANCE_PHASE_CACHE:-<repo>/.cache}/bin/<name>-<key>, where
# <key> hashes the files it is built from (names and contents); it is built in a private
# folder and renamed into place at the end, so an interrupted build never looks cached.
# Progress goes to stderr; the caller prints the result on stdout.
#
#   complete() { ... }              # true when the folder "$1" holds everything
#   cache_begin NAME FILE...        # sets $dir; exits 0 printing "$dir$result" when cached
#   cache_step LABEL CMD...         # runs CMD (a build) with a heartbeat; dies if it fails
#   cache_finish                    # moves the build into place
#   build_module_binary NAME LABEL  # all of the above for a module that makes one binary
cache_root="${ADVANCE_PHASE_CACHE:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/.cache}"
cache_name="go-build"
result="" # what the caller prints, relative to $dir (a binary's name, or nothing for the folder)

log() { echo "$cache_name: $*" >&2; }
die() { log "error: $*"; exit 1; }

cache_begin() {
  cache_name="$1"
  shift
  command -v go >/dev/null || die "go is not on PATH (see the README for the Go version)"
  local key
  key="$(for f in "$@"; do echo "$f"; cat "$f"; done | sha256sum | cut -c1-12)"
  dir="$cache_root/bin/$cache_name-$key"
  if complete "$dir"; then
    log "cached: $dir"
    echo "$dir$result"
    exit 0
  fi
  mkdir -p "$cache_root/bin"
  tmp="$(mktemp -d "$cache_root/bin/.$cache_name-$key.XXXXXX")"
  chmod 755 "$tmp" # mktemp makes it private; the binaries are for anyone on the machine
  cache_started=$SECONDS
  cache_pids=""
  trap 'kill $cache_pids 2>/dev/null || true; rm -rf "$tmp"' EXIT
  trap 'exit 143' INT TERM
}

cache_step() {
  local label="$1" t0=$SECONDS
  shift
  log "building $label ($(go version | cut -d' ' -f3))"
  # A heartbeat, so a multi-minute compile does not look hung; the command runs in the
  # background so that a signal stops it at once (bash defers traps while a foreground command runs).
  (while sleep 30 >/dev/null 2>&1; do log "  $label still building, $((SECONDS - t0)) s"; done) &
  local beat=$!
  "$@" >&2 &
  local build=$!
  cache_pids="$beat $build"
  local rc=0
  wait "$build" || rc=$?
  kill "$beat" 2>/dev/null || true
  wait "$beat" 2>/dev/null || true
  cache_pids=""
  [[ $rc -eq 0 ]] || die "building $label failed (exit $rc) after $((SECONDS - t0)) s (output above)"
  log "built $label in $((SECONDS - t0)) s"
}

cache_finish() {
  complete "$tmp" || die "the build did not produce everything expected in $tmp"
  # Another build may have won the race; its result is as good as ours.
  mv -T "$tmp" "$dir" 2>/dev/null || complete "$dir" || die "could not move $tmp to $dir"
  log "done in $((SECONDS - cache_started)) s: $dir"
}

# The whole build of a module that makes one binary named after it, from its module files,
# every Go source and build.sh itself: build_module_binary NAME "LABEL (cold: ...)".
# Run from the module's folder; prints the binary's path.
build_module_binary() {
  local name="$1" label="$2" sources
  complete() { [[ -x "$1/$name" ]]; }
  result="/$name"
  mapfile -t sources < <(find . -name '*.go' -type f | LC_ALL=C sort)
  cache_begin "$name" go.mod go.sum build.sh "${sources[@]}"
  cache_step "$label" env CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o "$tmp/$name" .
  cache_finish
  echo "$dir$result"
}
