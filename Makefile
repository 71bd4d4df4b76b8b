# esml-operator: every target does its own set-up on a fresh machine.
#   make            create .venv/ with the package and its development tools
#   make test       the whole suite (lint, unit, client, simulator, integration, e2e)
#   make demo       the operator end to end against the simulator (KEEP=1 leaves it running)
SHELL := /bin/bash
.DEFAULT_GOAL := venv

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
ESML_CLUSTER_DIR ?= $(CURDIR)/.local/cluster
ESML_KUBECONFIG ?= $(CURDIR)/.local/kubeconfig
PYTEST_ARGS ?=

.PHONY: venv controlplane cluster-up cluster-down lint unit test demo bench clean

venv: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	@touch $@

controlplane:
	@bash tests/controlplane/build.sh

cluster-up: venv controlplane
	@$(PY) -m tests.controlplane up --state-dir "$(ESML_CLUSTER_DIR)" --kubeconfig "$(ESML_KUBECONFIG)"

cluster-down: venv
	@$(PY) -m tests.controlplane down --state-dir "$(ESML_CLUSTER_DIR)"

lint: venv
	$(VENV)/bin/ruff check operator tests bench
	$(VENV)/bin/ruff format --check operator tests bench
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports

unit: venv
	$(VENV)/bin/pytest -m "not cluster" $(PYTEST_ARGS)

test: venv controlplane lint
	$(VENV)/bin/pytest $(PYTEST_ARGS)

demo: venv controlplane
	$(PY) -m tests.demo $(if $(KEEP),--keep,)

bench: venv controlplane
	$(PY) -m bench

clean:
	rm -rf $(VENV) .local .mypy_cache .ruff_cache .pytest_cache
