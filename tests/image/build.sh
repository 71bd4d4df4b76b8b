#!/usr/bin/env bash
# make image: build the Dockerfile with podman, on the stand-in base (tests/image/base/build.sh),
# and print the image's size.
#
# pip inside the build uses the host's package index configuration: tests/image/pipconf.py
# merges `pip config list` (files and PIP_* variables) into the pip.conf of a home directory
# that is mounted at /root for the RUN steps only (podman build --volume), with every host path
# it names (a CA bundle, find-links) mounted read-only beneath it. Proxy variables reach the RUN
# steps through podman's own --http-proxy (on by default). Nothing of this lands in the image
# (tests/image/test_contents.py checks).
#
# Environment:
#   ESML_IMAGE  the tag to build (default localhost/esml-operator:<version in pyproject.toml>)
#   PYTHON      the Python that runs pipconf.py (default python3)
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
say() { printf '[image] %s\n' "$*" >&2; }
die() { say "ERROR: $*"; exit 1; }
cd "$repo"

python=${PYTHON:-python3}
version=$("$python" -c 'import tomllib; print(tomllib.load(open("pyproject.toml", "rb"))["project"]["version"])')
image=${ESML_IMAGE:-localhost/esml-operator:$version}

base=$(bash "$here/base/build.sh") || die "the stand-in base image did not build"

scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
mounts=()
while IFS= read -r volume; do
  mounts+=(--volume "$volume")
done < <("$python" -m tests.image.pipconf "$scratch/home")
[ ${#mounts[@]} -gt 0 ] || die "tests/image/pipconf.py failed"

say "building $image on $base"
start=$SECONDS
podman build --runtime runc --pull=never --network host --layers \
  --build-arg "PYTHON_IMAGE=$base" \
  --label io.esml-operator.base=stand-in \
  "${mounts[@]}" \
  --tag "$image" --file Dockerfile . >&2 || die "podman build failed"

size=$(podman image inspect --format '{{.Size}}' "$image")
say "built $image in $((SECONDS - start)) s: $((size / 1000000)) MB ($size bytes)"
# The simulator is a distribution of its own (simulator/): absent here (tests/image/test_contents.py holds it).
simulator=$(podman run --rm --runtime runc --network none --read-only \
  --ulimit nofile=1024:1024 --ulimit nproc=1024:1024 --entrypoint python "$image" \
  -c 'import importlib.util as u; print("present" if u.find_spec("esml_simulator") else "absent")')
say "the simulator in the image: $simulator"
