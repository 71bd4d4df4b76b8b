"""README.md is a short front door: at most 250 lines, a minimal ModelDeployment that is really minimal, the
printer columns the CRD defines, and an index that reaches every page under docs/."""

from __future__ import annotations

import json
import re
from typing import Any

import yaml

from tests.controlplane.runner import REPO

README = REPO / "README.md"
CRD = REPO / "crds" / "esml.io_modeldeployments.yaml"


def _version() -> dict[str, Any]:
    (version,) = yaml.safe_load(CRD.read_text())["spec"]["versions"]
    return dict(version)


def test_the_readme_has_at_most_250_lines() -> None:
    assert len(README.read_text().splitlines()) <= 250


def test_install_comes_right_after_the_pitch() -> None:
    headings = re.findall(r"^## (.+)$", README.read_text(), flags=re.MULTILINE)
    assert headings[0] == "Install and first ModelDeployment"
    assert headings[-1] == "License"


def test_the_first_model_deployment_sets_only_what_the_crd_requires() -> None:
    (manifest,) = re.findall(r"kubectl apply -f - <<EOF\n(.*?)\nEOF\n", README.read_text(), flags=re.DOTALL)
    spec = yaml.safe_load(manifest)["spec"]
    schema = _version()["schema"]["openAPIV3Schema"]["properties"]["spec"]
    assert set(spec) == set(schema["required"]) == {"modelId", "elasticsearch"}
    assert set(spec["elasticsearch"]) == {"url", "credentialsSecretRef"}


def test_the_kubectl_get_output_has_the_crds_default_columns() -> None:
    (console,) = re.findall(r"```console\n(.*?)\n", README.read_text())
    columns = ["NAME"] + [c["name"].upper() for c in _version()["additionalPrinterColumns"] if not c.get("priority")]
    assert console.split() == columns


def test_the_index_links_every_page_of_the_docs_and_every_link_exists() -> None:
    linked = set(re.findall(r"\]\(([^):#]+)", README.read_text()))  # relative links (no scheme)
    missing = {link for link in linked if not (REPO / link).exists()}
    assert not missing, missing
    assert {"simulator/README.md", "manifests/README.md"} <= linked
    pages = {str(p.relative_to(REPO)) for p in (REPO / "docs").rglob("*.md")}
    assert pages - linked == set(), f"pages the README's index does not reach: {sorted(pages - linked)}"


def _bench_row(figure: str, metric: str) -> dict[str, Any]:
    results = json.loads((REPO / "bench" / "results.json").read_text())
    (found,) = [f for f in results["figures"] if f["key"] == figure]
    (row,) = [r for r in found["rows"] if r["metric"] == metric]
    return dict(row)


def test_the_headline_bench_figure_is_the_committed_run() -> None:
    """The README quotes bench/results.json (make bench); a new run that changes them fails here."""
    text = " ".join(README.read_text().split())
    polls = _bench_row("scale", "ES requests per resync interval, per cluster")
    assert f"{polls['value']:.2f} requests per interval per cluster" in text
    assert f"against {polls['reference']:.0f} for a naive operator" in text
    assert f"{_bench_row('scale', 'RSS')['value']:.0f} MB RSS" in text
    assert f"{_bench_row('scale', 'idle CPU')['value']:.1f} % of a core" in text
    assert _bench_row("scale", "API writes per minute, steady")["value"] == 0  # "no Kubernetes API writes at all"


def test_the_headline_reliability_figure_is_the_reports() -> None:
    """The README quotes docs/reliability.md's make reliability-report table."""
    report = {row[0]: row[1] for row in _rows((REPO / "docs" / "reliability.md").read_text())}
    text = " ".join(README.read_text().split())
    assert f"{report['Faults injected']} faults injected across {report['Scenarios run']} scenarios" in text
    assert f"{report['Resources converged']} resources converged" in text
    assert report["Secrets leaked"].startswith("0 ") and "no secret leaked" in text


def _rows(text: str) -> list[list[str]]:
    return [[c.strip() for c in line.split("|")[1:-1]] for line in text.splitlines() if line.startswith("| ")]
