# esml-operator container image.
#
#   docker build -t esml-operator:0.1.0 .
#
# Stage "wheel" builds the package's wheel with the locked build backend;
# stage "venv" installs it with the locked runtime dependencies (pip
# --require-hashes: nothing unpinned, nothing unhashed) into /opt/esml-operator;
# the final stage copies only that virtual environment onto the same slim
# Python, adds no packages (no compilers, no curl, no package installer), and
# runs as the non-root user 65532. tests/repo/test_dockerfile.py and
# tests/packaging/test_wheel.py check what can be checked without a Docker engine;
# `make image` builds it with podman and `make test-image` runs it as the install's
# Deployment does (tests/image, docs/operations/image.md).
ARG PYTHON_IMAGE=python:3.11.14-slim-bookworm

FROM ${PYTHON_IMAGE} AS wheel
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1 PYTHONDONTWRITEBYTECODE=1
WORKDIR /src
COPY requirements/build.txt requirements/build.txt
RUN python -m pip install --require-hashes -r requirements/build.txt
COPY pyproject.toml README.md ./
COPY operator/ operator/
RUN python -m pip wheel --no-deps --no-build-isolation --wheel-dir /dist .

FROM ${PYTHON_IMAGE} AS venv
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1 PYTHONDONTWRITEBYTECODE=1
COPY requirements/runtime.txt /tmp/runtime.txt
# The dependencies in a layer of their own: a change to the operator's code reuses it.
RUN python -m venv /opt/esml-operator \
 && /opt/esml-operator/bin/pip install --require-hashes --no-deps -r /tmp/runtime.txt
COPY --from=wheel /dist/ /dist/
RUN /opt/esml-operator/bin/pip install --no-deps /dist/*.whl \
 && /opt/esml-operator/bin/pip check \
 && /opt/esml-operator/bin/pip uninstall --yes pip setuptools

FROM ${PYTHON_IMAGE}
# No installer in the runtime image: neither in the venv (above) nor in the base Python.
RUN python -m pip uninstall --yes --quiet pip setuptools wheel
COPY --from=venv /opt/esml-operator /opt/esml-operator
ENV PATH=/opt/esml-operator/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1
LABEL org.opencontainers.image.title="esml-operator" \
      org.opencontainers.image.description="Keeps Elasticsearch trained-model deployments at the allocation count declared in a ModelDeployment" \
      org.opencontainers.image.licenses="Apache-2.0"
# 65532: the conventional "nonroot" uid/gid (as in distroless images); it owns nothing in the image.
USER 65532:65532
ENTRYPOINT ["esml-operator"]
CMD ["run", "--all-namespaces"]
