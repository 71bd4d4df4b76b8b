"""promtool (built by `make promtool` into .local/bin) and the alert rules as a plain Prometheus rules file."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from harness.runner import DEFAULT_BIN, REPO

PROMETHEUS_RULE = REPO / "manifests" / "prometheus" / "prometheusrule.yaml"


def promtool(*args: str, cwd: Path | None = None, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    """Run promtool; a missing binary fails the test (it is part of `make test`'s set-up)."""
    binary = DEFAULT_BIN / "promtool"
    if not binary.exists():
        pytest.fail(f"promtool is missing at {binary}: run `make promtool`")
    return subprocess.run(
        [str(binary), *args], cwd=cwd, input=stdin, capture_output=True, text=True, timeout=120, check=False
    )


def rule_groups() -> list[dict[str, Any]]:
    """The PrometheusRule's spec.groups: what Prometheus loads."""
    rule = yaml.safe_load(PROMETHEUS_RULE.read_text())
    assert rule["apiVersion"] == "monitoring.coreos.com/v1" and rule["kind"] == "PrometheusRule"
    return list(rule["spec"]["groups"])


def write_rules(path: Path, groups: list[dict[str, Any]]) -> Path:
    path.write_text(yaml.safe_dump({"groups": groups}, sort_keys=False))
    return path
