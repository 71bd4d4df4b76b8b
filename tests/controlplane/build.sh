#!/usr/bin/env bash
# Build (or reuse) kube-apiserver, kube-controller-manager, kubectl and etcd from the Go module proxy,
# and fetch KEDA's CRDs (github.com/kedacore/keda/v2, for the ScaledObject example's dry run).
#
# The binaries go to a cache outside the repository, keyed by the Kubernetes,
# etcd and Go versions, and are linked into <repo>/.local/bin. A second run
# with the same versions costs a few seconds.
#
# Recipe: docs/development.md, "The local control plane". A throw-away wrapper module
# requires k8s.io/kubernetes and replaces every staging module that upstream
# pins at v0.0.0 with the matching v0.Y.Z release.
#
# kube-apiserver, kubectl and kube-controller-manager come from one `go build` (one load of the package
# graph, and each link runs beside the remaining compiles instead of alone at the end of a build of its
# own), etcd from a second one (its own version flags, and upstream's build of it has no tags).
#
# Usage: build.sh             build (or reuse) and link into <repo>/.local/bin
#        build.sh --modules   resolve the control plane's modules only (no compile), waiting for a build of
#                             the same slot that is under way, and print the path of a file listing
#                             "module version" for every module its binaries compile; build-tool.sh builds
#                             helm and promtool with these versions where they share a module
#
# Environment:
#   ESML_CONTROLPLANE_CACHE  cache root (default ${XDG_CACHE_HOME:-$HOME/.cache}/esml-operator/controlplane)
#   ESML_LOCAL_BIN           where to link the binaries (default <repo>/.local/bin)
#   ESML_GO_BUILD_FLAGS      extra flags for `go build` (for example "-p 1" on a small machine)
set -euo pipefail
mode=${1:-build}
[ "$mode" = build ] || [ "$mode" = --modules ] || { echo "usage: build.sh [--modules]" >&2; exit 2; }

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
# shellcheck source=versions.env
. "$here/versions.env"

# Run a command, printing a heartbeat every 30 s so a long build shows progress.
ticking() {  # label cmd...
  local label=$1; shift
  ( s=0; while sleep 30; do s=$((s + 30)); printf '[controlplane]   %s: still running (%ds)\n' "$label" "$s" >&3; done ) &
  local ticker=$! rc=0
  "$@" || rc=$?
  kill "$ticker" 2>/dev/null; wait "$ticker" 2>/dev/null || true
  return "$rc"
}
exec 3>&2  # the heartbeat writes here, even while a step's stderr goes to a log
say() { printf '[controlplane] %s\n' "$*" >&2; }
die() { say "ERROR: $*"; exit 1; }

# shellcheck source=go-env.sh
. "$(dirname "${BASH_SOURCE[0]}")/go-env.sh"

K8S=${KUBERNETES:?versions.env must set KUBERNETES}
STAGING="v0.${K8S#1.}"
MAJOR=1
MINOR=${K8S#1.}; MINOR=${MINOR%%.*}
GOVER=$(go env GOVERSION)

# The upstream go.mod: fetched from the proxy, outside any module.
upstream_mod=$(cd "$(mktemp -d)" && GOFLAGS= go list -m -f '{{.GoMod}}' "k8s.io/kubernetes@v${K8S}") \
  || die "cannot read k8s.io/kubernetes@v${K8S} from the module proxy"
ETCD=$(awk '$1 == "go.etcd.io/etcd/server/v3" { print $2 }' "$upstream_mod")
[ -n "$ETCD" ] || die "k8s.io/kubernetes@v${K8S} does not pin go.etcd.io/etcd/server/v3"
go_line=$(awk '$1 == "go" { print $2; exit }' "$upstream_mod")

cache_root=${ESML_CONTROLPLANE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/esml-operator/controlplane}
key="${K8S}-${ETCD#v}-${GOVER}"
dest="$cache_root/$key"
bin="$dest/bin"
local_bin=${ESML_LOCAL_BIN:-$repo/.local/bin}
src="$dest/src"
modules="$dest/modules.txt"
CP_PACKAGES=(k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kubectl k8s.io/kubernetes/cmd/kube-controller-manager)
ETCD_PACKAGE=go.etcd.io/etcd/server/v3

# One build per slot at a time: a second run (or build-tool.sh asking for the modules) waits for the first,
# then reuses its work. The Go commands run with the lock's descriptor closed, so that a compiler left
# behind by an interrupted build cannot keep the next one waiting.
mkdir -p "$cache_root"
exec 9>"$dest.lock"
flock 9
go() { command go "$@" 9>&-; }

link_into_repo() {
  mkdir -p "$local_bin"
  for b in kube-apiserver kube-controller-manager kubectl etcd; do ln -sfn "$bin/$b" "$local_bin/$b"; done
  say "binaries: $bin (linked into $local_bin)"
}

# KEDA's CRDs from its Go module (a module download, no build), in their own cache slot,
# linked as <local_bin>/../keda-crds for the ScaledObject example's server-side dry run.
fetch_keda_crds() {
  local kdest="$cache_root/keda-${KEDA}"
  if [ ! -f "$kdest/complete" ]; then
    say "fetching KEDA v${KEDA} CRDs (github.com/kedacore/keda/v2)..."
    local dir
    dir=$(cd "$(mktemp -d)" && GOFLAGS= go mod download -json "github.com/kedacore/keda/v2@v${KEDA}" |
      sed -n 's/.*"Dir": "\(.*\)".*/\1/p') || die "cannot download github.com/kedacore/keda/v2@v${KEDA}"
    [ -f "$dir/config/crd/bases/keda.sh_scaledobjects.yaml" ] || die "no ScaledObject CRD in KEDA v${KEDA}"
    rm -rf "$kdest"; mkdir -p "$kdest/crds"
    cp "$dir"/config/crd/bases/keda.sh_*.yaml "$kdest/crds/"
    echo "keda=v${KEDA}" >"$kdest/complete"
  fi
  ln -sfn "$kdest/crds" "$(dirname "$local_bin")/keda-crds"
}
timer=()
if [ -x /usr/bin/time ]; then timer=(/usr/bin/time -f '%e s wall, %U s user, %S s system, %M KiB peak RSS'); fi

# -ldflags that make the Kubernetes binaries report the pinned version (kubectl version, --version).
kubernetes_ldflags() {  # build_date
  local commit ld="-s -w" pkg
  commit=$(GOFLAGS= go mod download -json "k8s.io/kubernetes@v${K8S}" | sed -n 's/.*"Hash": "\([0-9a-f]\{40\}\)".*/\1/p' | tail -n 1 || true)
  for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ld="$ld -X $pkg.gitVersion=v${K8S} -X $pkg.gitMajor=${MAJOR} -X $pkg.gitMinor=${MINOR}"
    ld="$ld -X $pkg.gitCommit=${commit:-unknown} -X $pkg.gitTreeState=clean -X $pkg.buildDate=$1"
  done
  printf '%s' "$ld"
}

build_one() {  # name ldflags tags package...   (several packages: binaries named after them, in one go build)
  local name=$1 flags=$2 tags=$3; shift 3
  local out="$bin/$name.tmp"
  [ $# -eq 1 ] || { out="$bin/tmp/"; rm -rf "$bin/tmp"; mkdir -p "$bin/tmp"; }
  say "building $name ($*)..."
  local start=$(date +%s)
  # shellcheck disable=SC2086
  ticking "build $name" "${timer[@]}" go build -gcflags "$ESML_GO_GCFLAGS" ${ESML_GO_BUILD_FLAGS:-} ${tags:+-tags "$tags"} -ldflags "$flags" \
      -o "$out" "$@" 2>"$dest/build-$name.log" 9>&- \
    || { tail -n 40 "$dest/build-$name.log" >&2; die "building $name failed"; }
  if [ $# -eq 1 ]; then mv "$bin/$name.tmp" "$bin/$name"; else mv "$bin"/tmp/* "$bin/" && rmdir "$bin/tmp"; fi
  local stats
  stats=$(tail -n 1 "$dest/build-$name.log")
  [ -n "${timer[*]}" ] || stats="$(( $(date +%s) - start )) s wall"
  say "built $name in $stats"
  printf '%s: %s\n' "$name" "$stats" >>"$dest/build-times.txt"
}


# kube-controller-manager (HPA, namespace and garbage-collector controllers, for the tests that need them)
# is marked done by its binary, so a cache built before it was added builds only this one.
build_controller_manager() {
  [ -x "$bin/kube-controller-manager" ] && return 0
  ( cd "$dest/src"
    grep -q 'cmd/kube-controller-manager' tools.go ||
      sed -i 's#^\t_ "k8s.io/kubernetes/cmd/kube-apiserver"#&\n\t_ "k8s.io/kubernetes/cmd/kube-controller-manager"#' tools.go
    grep -q 'cmd/kube-controller-manager' tools.go || die "could not add kube-controller-manager to tools.go"
    build_one kube-controller-manager "$(kubernetes_ldflags "$(date -u +%Y-%m-%dT%H:%M:%SZ)")" "$ESML_GO_TAGS" \
      k8s.io/kubernetes/cmd/kube-controller-manager )
  # A here-string, not a pipe into grep -q (see the version checks below).
  grep -qx "Kubernetes v${K8S}" <<<"$("$bin/kube-controller-manager" --version)" ||
    die "kube-controller-manager reports $("$bin/kube-controller-manager" --version)"
}

finish() {
  build_controller_manager
  link_into_repo
  build_kstatus
  fetch_keda_crds
}

# Flux's kstatus as a tiny CLI (tests/controlplane/kstatus/main.go), in its own module and cache slot.
build_kstatus() {
  local kdest="$cache_root/kstatus-${KSTATUS}-${GOVER}"
  if [ ! -x "$kdest/bin/kstatus" ]; then
    say "building kstatus (github.com/fluxcd/cli-utils v${KSTATUS})..."
    local start; start=$(date +%s)
    rm -rf "$kdest/src"; mkdir -p "$kdest/src" "$kdest/bin"
    cp "$here/kstatus/main.go" "$kdest/src/main.go"
    printf 'module esml.invalid/kstatus\n\ngo 1.26.0\n\nrequire github.com/fluxcd/cli-utils v%s\n' "$KSTATUS" >"$kdest/src/go.mod"
    ( cd "$kdest/src" && go mod tidy >/dev/null 2>"$kdest/tidy.log" && go build -trimpath -ldflags "-s -w" -o "$kdest/bin/kstatus.tmp" . ) \
      || { tail -n 30 "$kdest/tidy.log" >&2; die "building kstatus failed"; }
    mv "$kdest/bin/kstatus.tmp" "$kdest/bin/kstatus"
    say "built kstatus in $(( $(date +%s) - start ))s"
  fi
  mkdir -p "$local_bin"
  ln -sfn "$kdest/bin/kstatus" "$local_bin/kstatus"
}

# The wrapper module: requires k8s.io/kubernetes, one replace per staging module, tidied; then the guards.
resolve() {
  say "resolving Kubernetes v$K8S (staging $STAGING), etcd $ETCD -> $src"
  rm -rf "$src" "$modules"
  mkdir -p "$src"
  cat >"$src/go.mod" <<EOF
module esml.invalid/controlplane

go ${go_line}

godebug default=go${go_line%.*}

require k8s.io/kubernetes v${K8S}
EOF
  cat >"$src/tools.go" <<'EOF'
//go:build tools

package tools

import (
	_ "go.etcd.io/etcd/server/v3"
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
	_ "k8s.io/kubernetes/cmd/kubectl"
)
EOF
  ( cd "$src"
    # One replace per k8s.io module that upstream requires at v0.0.0.
    n=0
    while read -r m; do
      go mod edit -replace "${m}=${m}@${STAGING}"
      n=$((n + 1))
    done < <(awk '$1 ~ /^k8s\.io\// && $2 == "v0.0.0" { print $1 }' "$upstream_mod" | sort -u)
    [ "$n" -gt 0 ] || die "found no v0.0.0 staging modules in the upstream go.mod"
    say "generated $n staging replace lines"

    t=$(date +%s)
    say "resolving modules (a few hundred MB on a cold module cache)..."
    ticking "go mod tidy" go mod tidy >/dev/null 2>"$dest/tidy.log" || { tail -n 30 "$dest/tidy.log" >&2; die "go mod tidy failed"; }
    say "modules resolved in $(( $(date +%s) - t ))s"

    # Guards: nothing left at v0.0.0, every replaced k8s.io module at STAGING, etcd as pinned.
    if go list -m all | grep -E ' v0\.0\.0$' >&2; then die "unreplaced v0.0.0 module(s) above"; fi
    go list -m -f '{{if .Replace}}{{.Path}} {{.Replace.Version}}{{end}}' all |
      awk -v want="$STAGING" '$1 ~ /^k8s\.io\// && $2 != want { print "BAD " $0 > "/dev/stderr"; bad=1 } END { exit bad }' \
      || die "a staging module is not at $STAGING"
    got_etcd=$(go list -m -f '{{.Version}}' "$ETCD_PACKAGE")
    [ "$got_etcd" = "$ETCD" ] || die "etcd resolved to $got_etcd, expected $ETCD" )
  touch "$src/resolved"
}

# "module version" of every module that gives a package to the four binaries (the version whose code is
# built: a replace's), for build-tool.sh.
list_modules() {
  ( cd "$src" && go list -deps -tags "$ESML_GO_TAGS" \
      -f '{{with .Module}}{{.Path}} {{with .Replace}}{{.Version}}{{else}}{{.Version}}{{end}}{{end}}' \
      "${CP_PACKAGES[@]}" "$ETCD_PACKAGE" ) | sort -u >"$modules.tmp" || die "cannot list the control plane's modules"
  mv "$modules.tmp" "$modules"
}

if [ "$mode" = --modules ]; then
  [ -f "$dest/complete" ] || [ -f "$src/resolved" ] || resolve
  [ -f "$modules" ] || list_modules
  printf '%s\n' "$modules"
  exit 0
fi

if [ -f "$dest/complete" ]; then
  say "reusing cached build $key"
  finish
  exit 0
fi

t0=$(date +%s)
say "building Kubernetes v$K8S (staging $STAGING), etcd $ETCD with $GOVER -> $dest"
[ -f "$src/resolved" ] || resolve
[ -f "$modules" ] || list_modules
rm -rf "$bin"
mkdir -p "$bin"
cd "$src"

build_date=$(date -u +%Y-%m-%dT%H:%M:%SZ)
ld=$(kubernetes_ldflags "$build_date")
: >"$dest/build-times.txt"
build_one kubernetes "$ld" "$ESML_GO_TAGS" "${CP_PACKAGES[@]}"
build_one etcd "-s -w -X go.etcd.io/etcd/api/v3/version.GitSHA=module" "" "$ETCD_PACKAGE"

# Verify the products report the pinned versions.
# Version checks read the binary's whole output first and grep a here-string: with pipefail,
# `bin --version | grep -q` fails whenever grep exits at its match before the binary has written
# everything (SIGPIPE), as kubectl's two-line answer did on a cold run.
grep -qx "Kubernetes v${K8S}" <<<"$("$bin/kube-apiserver" --version)" || die "kube-apiserver reports $("$bin/kube-apiserver" --version)"
grep -q "Client Version: v${K8S}" <<<"$("$bin/kubectl" version --client)" || die "kubectl reports $("$bin/kubectl" version --client)"
grep -q "etcd Version: ${ETCD#v}" <<<"$("$bin/etcd" --version)" || die "etcd reports $("$bin/etcd" --version | head -n 1)"

cat >"$dest/complete" <<EOF
kubernetes=v${K8S}
etcd=${ETCD}
go=${GOVER}
built=${build_date}
EOF
finish
say "done in $(( $(date +%s) - t0 ))s"
