"""helm (built by `make helm` into .local/bin), run with its config, cache and data in a temporary directory."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from harness.runner import DEFAULT_BIN, REPO

CHART = REPO / "charts" / "esml-operator"
RELEASE = "esml-operator"
NAMESPACE = "esml-system"


class Helm:
    """One helm home (HELM_CACHE_HOME, HELM_CONFIG_HOME, HELM_DATA_HOME under ``home``), nothing written elsewhere."""

    def __init__(self, home: Path, kubeconfig: Path | None = None) -> None:
        binary = DEFAULT_BIN / "helm"
        if not binary.exists():
            pytest.fail(f"helm is missing at {binary}: run `make helm`")
        self.binary = binary
        self.env = {
            "PATH": os.environ.get("PATH", ""),
            "HOME": str(home),
            "HELM_CACHE_HOME": str(home / "cache"),
            "HELM_CONFIG_HOME": str(home / "config"),
            "HELM_DATA_HOME": str(home / "data"),
            # No KUBECONFIG from the environment: a command that needs a cluster gets the test's.
            "KUBECONFIG": str(kubeconfig) if kubeconfig else str(home / "no-kubeconfig"),
        }

    def run(self, *args: str, check: bool = True, timeout: float = 180) -> subprocess.CompletedProcess[str]:
        cmd = [str(self.binary), *args]
        proc = subprocess.run(cmd, env=self.env, capture_output=True, text=True, timeout=timeout, check=False)
        if check and proc.returncode != 0:
            raise AssertionError(f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
        return proc

    def template(
        self, *values: str, release: str = RELEASE, namespace: str = NAMESPACE, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        """``helm template`` of the chart (``values``: --set / -f style arguments)."""
        return self.run("template", release, str(CHART), "--namespace", namespace, *values, check=check)

    def objects(self, *values: str, release: str = RELEASE, namespace: str = NAMESPACE) -> list[dict[str, Any]]:
        return documents(self.template(*values, release=release, namespace=namespace).stdout)


def documents(text: str) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(text) if d]


def find(objects: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    found = [o for o in objects if o["kind"] == kind and o["metadata"]["name"] == name]
    names = [(o["kind"], o["metadata"]["name"]) for o in objects]
    assert len(found) == 1, f"{kind}/{name}: {len(found)} found among {names}"
    return found[0]
