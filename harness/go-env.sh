# shellcheck shell=bash
# The Go environment of every build from the module proxy (build.sh, build-tool.sh). Sourced after die().
command -v go >/dev/null || die "no Go toolchain on PATH; install Go >= 1.26"
export GOTOOLCHAIN=local          # never switch toolchains silently
export GOFLAGS="${GOFLAGS:-} -mod=mod"
proxy=$(go env GOPROXY)
export GOPROXY="${proxy%%,direct}" # fail fast instead of falling back to git
export CGO_ENABLED=0
