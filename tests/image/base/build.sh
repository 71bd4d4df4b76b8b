#!/usr/bin/env bash
# Build (or reuse) the STAND-IN base image for `make image`: a TEST FIXTURE, not a release base.
#
# The Dockerfile's base is the official python:<version>-slim-bookworm image. No container
# registry is reachable on the machines this project is built on, so this script makes an
# image with the same layout from Debian packages (bookworm's python3 through the host's apt
# sources): `python` at /usr/local/bin/python, pip, setuptools and wheel installed under
# /usr/local (so `python -m pip` works and `pip uninstall` can remove them, as in the official
# image), no PEP 668 marker, ca-certificates, no compiler. Released images are built on the
# official base; see docs/operations/image.md.
#
# The root filesystem (mmdebstrap, minbase) is cached outside the repository, keyed by a hash
# of this recipe, and imported into podman's local storage under a tag carrying that hash.
# A second run with the same recipe reuses both (a second or so).
#
# Prints the image reference on stdout (everything else goes to stderr).
#
# Environment:
#   ESML_IMAGE_CACHE  cache root (default ${XDG_CACHE_HOME:-$HOME/.cache}/esml-operator/image)
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
say() { printf '[base-image] %s\n' "$*" >&2; }
die() { say "ERROR: $*"; exit 1; }

SUITE=bookworm
PACKAGES=python3,python3-venv,python3-pip-whl,python3-setuptools-whl,python3-wheel-whl,ca-certificates
NAME=localhost/esml-operator-base-standin

command -v podman >/dev/null || die "podman is missing (make podman installs it)"
command -v mmdebstrap >/dev/null || die "mmdebstrap is missing (make podman installs it)"

recipe=$(sha256sum "${BASH_SOURCE[0]}" | cut -c1-12)
tag="$NAME:$SUITE-$recipe"
cache_root=${ESML_IMAGE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/esml-operator/image}
dest="$cache_root/base-$SUITE-$recipe"

if podman image exists "$tag"; then
  say "reusing $tag"
  echo "$tag"
  exit 0
fi

# The host's Debian sources (the files that name the suite) and its apt proxy settings, if any.
sources=()
for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; do
  [ -f "$f" ] && grep -qE "^[^#]*\b$SUITE\b" "$f" && grep -qiE '^[^#]*debian' "$f" && sources+=("$f")
done
[ ${#sources[@]} -gt 0 ] || die "no Debian $SUITE entry in the host's apt sources"
aptopts=()
while IFS= read -r line; do aptopts+=("--aptopt=$line"); done < <(apt-config dump | grep -iE '^Acquire::[a-z]+::Proxy' || true)

if [ ! -f "$dest/complete" ]; then
  say "building the $SUITE root filesystem with mmdebstrap (sources: ${sources[*]})..."
  rm -rf "$dest"; mkdir -p "$dest"
  # The customize hook gives the official image's layout: python on /usr/local/bin, pip,
  # setuptools and wheel installed by pip itself into /usr/local (with their RECORD, so
  # `python -m pip uninstall` works), and no EXTERNALLY-MANAGED marker.
  mmdebstrap --variant=minbase --mode=root --format=tar \
    --include="$PACKAGES" "${aptopts[@]}" \
    --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-exclude=/usr/share/man/*' \
    --dpkgopt='path-exclude=/usr/share/locale/*' --dpkgopt='path-exclude=/usr/share/info/*' \
    --customize-hook='ln -sf /usr/bin/python3 "$1/usr/local/bin/python"' \
    --customize-hook='ln -sf /usr/bin/python3 "$1/usr/local/bin/python3"' \
    --customize-hook='rm -f "$1"/usr/lib/python3*/EXTERNALLY-MANAGED' \
    --customize-hook='chroot "$1" sh -c "set -- /usr/share/python-wheels/pip-*.whl && python \$1/pip install --quiet --no-index \
      --disable-pip-version-check --no-cache-dir --find-links /usr/share/python-wheels pip setuptools wheel"' \
    --customize-hook='chroot "$1" python -m pip --version' \
    --customize-hook='rm -rf "$1"/var/lib/apt/lists/* "$1"/var/cache/apt/*' \
    "$SUITE" "$dest/rootfs.tar" "${sources[@]}" >&2 \
    || die "mmdebstrap failed"
  touch "$dest/complete"
fi

say "importing $dest/rootfs.tar as $tag"
podman import --quiet \
  --change 'ENV PATH=/usr/local/bin:/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change 'ENV LANG=C.UTF-8' \
  --change 'LABEL io.esml-operator.base=stand-in' \
  --change "LABEL io.esml-operator.base-recipe=$recipe" \
  --change 'CMD ["python3"]' \
  "$dest/rootfs.tar" "$tag" >/dev/null
echo "$tag"
