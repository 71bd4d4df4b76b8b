# shellcheck shell=bash
# The Go environment of every build from the module proxy (build.sh, build-tool.sh). Sourced after die().
command -v go >/dev/null || die "no Go toolchain on PATH; install Go >= 1.26"
export GOTOOLCHAIN=local          # never switch toolchains silently
export GOFLAGS="${GOFLAGS:-} -mod=mod"
proxy=$(go env GOPROXY)
export GOPROXY="${proxy%%,direct}" # fail fast instead of falling back to git
export CGO_ENABLED=0

# One set of build settings for every Go build here (control plane, helm, promtool), so that the packages
# they have in common compile once into the Go build cache (docs/cold-start.md):
# - the build tags of Kubernetes' release builds, for all of them (a tag that changes the files of a package
#   changes its cache key and every key above it: notest drops apimachinery's fuzz helpers, grpcnotrace
#   grpc's x/net/trace hook);
# - no -trimpath: with -trimpath the cache key of a package carries the module version its build selected,
#   so a tool that takes a module at the control plane's version through a replace (build-tool.sh) would
#   compile it again; without it the key is the module's directory in the module cache.
# - no DWARF from the compiler: every binary is linked with -s -w, which throws it away; not writing it
#   saves about a tenth of the compile CPU (90.5 -> 80.6 CPU-s for client-go/rest's packages, cold).
ESML_GO_TAGS=selinux,notest,grpcnotrace
ESML_GO_GCFLAGS=all=-dwarf=false
