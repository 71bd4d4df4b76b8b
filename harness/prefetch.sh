#!/usr/bin/env bash
# Download the Go modules of the builds that follow the control plane's (helm, promtool, kstatus) into the Go
# module cache, compiling nothing. `make test` runs it beside `build.sh`: the control plane's compile keeps
# both cores busy, and these downloads are network time that would otherwise come after it, one tool at a
# time (about a minute on a cold module cache; docs/cold-start.md). Safe to run at any time: the module cache
# takes concurrent downloads, and nothing here touches a cache slot.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=versions.env
. "$here/versions.env"
say() { printf '[prefetch] %s\n' "$*" >&2; }
die() { say "ERROR: $*"; exit 1; }
# shellcheck source=go-env.sh
. "$here/go-env.sh"

fetch_kstatus() {
  local tmp start
  tmp=$(mktemp -d); start=$(date +%s)
  cp "$here/kstatus/main.go" "$tmp/main.go"
  printf 'module esml.invalid/kstatus\n\ngo 1.26.0\n\nrequire github.com/fluxcd/cli-utils v%s\n' "$KSTATUS" >"$tmp/go.mod"
  ( cd "$tmp" && go mod tidy >/dev/null 2>"$tmp/tidy.log" ) ||
    { tail -n 30 "$tmp/tidy.log" >&2; rm -rf "$tmp"; die "cannot download kstatus' modules"; }
  rm -rf "$tmp"
  say "kstatus: modules downloaded in $(( $(date +%s) - start ))s"
}

pids=()
bash "$here/build-tool.sh" helm --fetch & pids+=($!)
bash "$here/build-tool.sh" promtool --fetch & pids+=($!)
fetch_kstatus & pids+=($!)
rc=0
for pid in "${pids[@]}"; do wait "$pid" || rc=1; done
exit "$rc"
