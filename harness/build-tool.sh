#!/usr/bin/env bash
# Build (or reuse) one Go command-line tool the tests need, from the Go module proxy:
#   helm      helm.sh/helm/v4/cmd/helm                      (the chart's lint, template, install tests)
#   promtool  github.com/prometheus/prometheus/cmd/promtool (the alert rules' checks and unit tests)
#
# Usage: build-tool.sh helm|promtool            build (or reuse) and link into <repo>/.local/bin
#        build-tool.sh helm|promtool --fetch    download the modules the build needs into the Go module cache
#                                               and compile nothing (prefetch.sh runs it while the control
#                                               plane compiles: the downloads are network time, not CPU)
#
# Each tool has its own cache slot outside the repository, keyed by the tool's version, the Kubernetes
# version and the Go version, marked by a `complete` file, and linked into <repo>/.local/bin. The two tools
# can be built at the same time (make -j helm promtool); two runs for the same tool wait for each other on
# a lock.
# Versions are pinned in versions.env.
#
# Recipe: a throw-away wrapper module that requires the tool's module at the pinned version (its
# dependencies resolve as the upstream go.mod pins them) and builds the command package, with
# the version linker flags the upstream release build sets, so `helm version` and `promtool --version`
# report the real version. (Not upstream's exact dependency versions, see below.)
#
# Shared with the control plane: every module that gives packages both to the tool and to the control
# plane's binaries is built at the control plane's version (a replace; the list comes from
# `build.sh --modules`, which waits for a control plane build under way), with the control plane's build
# tags (go-env.sh), so those packages come from the Go build cache instead of compiling a second time
# (helm: 13 modules, golang.org/x/*, protobuf, yaml...; about 70% of its compile work; docs/cold-start.md).
# A tool may keep its own version of a module (`keep` below) where its code needs it.
#
# Environment:
#   ESML_CONTROLPLANE_CACHE  cache root, shared with build.sh
#                            (default ${XDG_CACHE_HOME:-$HOME/.cache}/esml-operator/controlplane)
#   ESML_LOCAL_BIN           where to link the binary (default <repo>/.local/bin)
#   ESML_GO_BUILD_FLAGS      extra flags for `go build` (for example "-p 1" on a small machine)
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)
# shellcheck source=versions.env
. "$here/versions.env"

tool=${1:-}
mode=${2:-build}
say() { printf '[%s] %s\n' "${tool:-tools}" "$*" >&2; }
die() { say "ERROR: $*"; exit 1; }
# shellcheck source=go-env.sh
. "$(dirname "${BASH_SOURCE[0]}")/go-env.sh"

case "$tool" in
  helm)
    module=helm.sh/helm/v4
    version=${HELM:?versions.env must set HELM}
    pkg=$module/cmd/helm
    ldflags="-s -w -X $module/internal/version.version=v${version} -X $module/internal/version.gitTreeState=clean"
    tags=$ESML_GO_TAGS
    keep=""
    ;;
  promtool)
    # Prometheus v3.X.Y is published on the module proxy as v0.3XX.Y (v3.16.0 is v0.316.0).
    module=github.com/prometheus/prometheus
    version=${PROMETHEUS:?versions.env must set PROMETHEUS}
    major=${version%%.*} rest=${version#*.}
    minor=${rest%%.*} patch=${rest#*.}
    modversion=$(printf 'v0.%d%02d.%d' "$major" "$minor" "$patch")
    pkg=$module/cmd/promtool
    v=github.com/prometheus/common/version
    ldflags="-s -w -X $v.Version=${version} -X $v.Revision=module-${modversion} -X $v.Branch=HEAD"
    ldflags="$ldflags -X $v.BuildUser=esml-operator -X $v.BuildDate=$(date -u +%Y%m%d-%H:%M:%S)"
    # remove_all_sd: upstream's documented tag that leaves out the optional service discoveries (cloud SDKs,
    # client-go, ...), which none of promtool's rule and metrics checks use; it cuts the cold build by most.
    # Not upstream's netgo: with CGO_ENABLED=0 (go-env.sh) the net package resolves names in Go anyway, and
    # the tag would give `net`, and so every package above it, a cache key of its own.
    tags="remove_all_sd,$ESML_GO_TAGS"
    # Prometheus' own modules and the instrumentation it is released with stay at promtool's versions.
    keep='^(github\.com/prometheus/|go\.opentelemetry\.io/|google\.golang\.org/(grpc|genproto)|github\.com/felixge/httpsnoop)'
    ;;
  *) die "usage: build-tool.sh helm|promtool" ;;
esac
modversion=${modversion:-v${version}}

if [ "$mode" = --fetch ]; then
  # The tool's module and every module its command's packages come from (at upstream's pins; the
  # control plane's versions of the shared ones are in the module cache once its build has resolved).
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  start=$(date +%s)
  ( cd "$tmp" && go mod init esml.invalid/fetch-"$tool" >/dev/null 2>&1 &&
    go get -tool "${pkg}@${modversion}" >/dev/null 2>"$tmp/get.log" &&
    go list -deps ${tags:+-tags "$tags"} "$pkg" >/dev/null 2>>"$tmp/get.log" ) ||
    { tail -n 30 "$tmp/get.log" >&2; die "cannot download $module@${modversion} from the module proxy"; }
  say "modules downloaded in $(( $(date +%s) - start ))s (nothing compiled)"
  exit 0
fi
[ "$mode" = build ] || die "usage: build-tool.sh helm|promtool [--fetch]"

GOVER=$(go env GOVERSION)

cache_root=${ESML_CONTROLPLANE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/esml-operator/controlplane}
dest="$cache_root/${tool}-${version}-k8s${KUBERNETES:?versions.env must set KUBERNETES}-${GOVER}"
bin="$dest/bin"
local_bin=${ESML_LOCAL_BIN:-$repo/.local/bin}

# The version the binary reports, read whole before grep (a pipe into grep -q can SIGPIPE the tool).
check_version() {
  local out
  case "$tool" in
    helm) out=$("$bin/helm" version --template '{{.Version}}') && [ "$out" = "v${version}" ] ;;
    promtool) out=$("$bin/promtool" --version 2>&1) && grep -q "^promtool, version ${version} " <<<"$out" ;;
  esac || die "$bin/$tool reports: ${out:-nothing}"
}

link_into_repo() {
  mkdir -p "$local_bin"
  ln -sfn "$bin/$tool" "$local_bin/$tool"
  say "binary: $bin/$tool (linked into $local_bin)"
}

mkdir -p "$cache_root"
exec 9>"$dest.lock"
flock 9  # a concurrent build of the same slot finishes first; this run then reuses it
# Only this script holds the lock: the Go commands below run with descriptor 9 closed, so that a compiler
# left behind by an interrupted build cannot keep the next build waiting.
go() { command go "$@" 9>&-; }

if [ -f "$dest/complete" ]; then
  check_version
  link_into_repo
  exit 0
fi

say "building $tool ${version} ($module@${modversion}) with $GOVER -> $dest"
start=$(date +%s)
rm -rf "$dest"
mkdir -p "$dest/src" "$bin"
cd "$dest/src"
go mod init esml.invalid/tool-"$tool" >/dev/null 2>&1
# `go get -tool` records the command and resolves its dependencies as the upstream go.mod pins them.
go get -tool "${pkg}@${modversion}" >/dev/null 2>"$dest/get.log" \
  || { tail -n 30 "$dest/get.log" >&2; die "cannot resolve $module@${modversion} from the module proxy"; }
got=$(go list -m -f '{{.Version}}' "$module")
[ "$got" = "$modversion" ] || die "$module resolved to $got, expected $modversion"

# The control plane's versions for the modules the tool shares with it (go.mod.upstream: before).
: >"$dest/aligned.txt"
cp go.mod go.mod.upstream
cp_modules=$(bash "$here/build.sh" --modules 9>&-) || die "cannot resolve the control plane's modules"
while read -r m v; do
  [ "$m" != "$module" ] || continue
  [ -z "$keep" ] || ! [[ $m =~ $keep ]] || continue
  cpv=$(awk -v m="$m" '$1 == m { print $2 }' "$cp_modules")
  [ -n "$cpv" ] && [ "$cpv" != "$v" ] || continue
  go mod edit -replace "$m=$m@$cpv"
  printf '%s %s => %s\n' "$m" "$v" "$cpv" >>"$dest/aligned.txt"
done < <(go list -deps ${tags:+-tags "$tags"} -f '{{with .Module}}{{.Path}} {{.Version}}{{end}}' "$pkg" | sort -u)
say "modules resolved in $(( $(date +%s) - start ))s; $(wc -l <"$dest/aligned.txt") at the control plane's versions (aligned.txt)"

timer=()
if [ -x /usr/bin/time ]; then timer=(/usr/bin/time -f '%e s wall, %U s user, %S s system, %M KiB peak RSS'); fi
build() {
  # shellcheck disable=SC2086
  "${timer[@]}" go build -gcflags "$ESML_GO_GCFLAGS" ${ESML_GO_BUILD_FLAGS:-} ${tags:+-tags "$tags"} -ldflags "$ldflags" \
    -o "$bin/$tool.tmp" "$pkg" 2>"$dest/build.log" 9>&-
}
if ! build; then
  tail -n 40 "$dest/build.log" >&2
  [ -s "$dest/aligned.txt" ] || die "building $tool failed"
  # A newer tool may need a newer version of a module it shares with the control plane: build it as
  # upstream pins it instead (slower: nothing shared), and say so.
  say "WARNING: building $tool with the control plane's module versions failed (above); building it with its own"
  mv "$dest/aligned.txt" "$dest/aligned-failed.txt"
  : >"$dest/aligned.txt"
  cp go.mod.upstream go.mod
  build || { tail -n 40 "$dest/build.log" >&2; die "building $tool failed"; }
fi
mv "$bin/$tool.tmp" "$bin/$tool"
check_version
stats=$(tail -n 1 "$dest/build.log")
[ -n "${timer[*]}" ] || stats="build only"
total=$(( $(date +%s) - start ))
printf 'tool=%s\nversion=%s\nmodule=%s@%s\ntags=%s\ngo=%s\nkubernetes=v%s\naligned=%s\nbuilt=%s\nseconds=%s\n' \
  "$tool" "$version" "$module" "$modversion" "$tags" "$GOVER" "$KUBERNETES" "$(wc -l <"$dest/aligned.txt")" \
  "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$total" >"$dest/complete"
link_into_repo
say "built $tool in ${total}s (go build: $stats)"
