"""manifests/grafana/esml-operator.json: every query parses (promtool) and reads only series the operator serves."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

from harness.runner import REPO
from tests.support.promql import series_names
from tests.support.promtool import promtool, write_rules
from tests.unit.exposition import real_exposition, sample_names

GRAFANA = REPO / "manifests" / "grafana"
DASHBOARD = GRAFANA / "esml-operator.json"
#: Grafana's variables, replaced by what they stand for when the dashboard runs.
VARIABLES = {"$__rate_interval": "5m", '"$namespace"': '".*"', '"$name"': '".*"'}


def dashboard() -> dict[str, Any]:
    return dict(json.loads(DASHBOARD.read_text()))


def queries() -> Iterator[tuple[str, str]]:
    """(panel title, PromQL) for every target of every panel."""
    for panel in dashboard()["panels"]:
        for target in panel.get("targets", []):
            yield panel["title"], target["expr"]


def expanded(expr: str) -> str:
    for variable, value in VARIABLES.items():
        expr = expr.replace(variable, value)
    assert "$" not in expr, f"an unknown Grafana variable in {expr}"
    return expr


def variable_queries() -> list[str]:
    return [v["query"]["query"] for v in dashboard()["templating"]["list"] if v["type"] == "query"]


def test_the_dashboard_has_the_panels_users_need() -> None:
    titles = {panel["title"] for panel in dashboard()["panels"]}
    for wanted in (
        "Allocations: desired vs running",
        "Pending requests",
        "Inferences per second",
        "Requests by operation and status",
        "Errors (5xx and no answer)",
        "Request latency",
        "Reaction and pass durations",
        "Leader",
        "Resident memory and limit",
    ):
        assert wanted in titles, wanted
    for panel in dashboard()["panels"]:
        if panel["type"] != "row":
            assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}, panel["title"]
            assert panel["targets"], panel["title"]
    assert len({panel["id"] for panel in dashboard()["panels"]}) == len(dashboard()["panels"])


def test_every_query_parses(tmp_path: Path) -> None:
    """promtool parses no bare expression, so each query becomes a recording rule and `check rules` parses it."""
    rules = [{"record": f"dashboard:query_{i}", "expr": expanded(expr)} for i, (_, expr) in enumerate(queries())]
    assert len(rules) >= 20
    path = write_rules(tmp_path / "dashboard.yml", [{"name": "dashboard", "rules": rules}])
    result = promtool("check", "rules", str(path))
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(rules)} rules found" in result.stdout + result.stderr


def test_a_query_that_does_not_parse_fails_the_check(tmp_path: Path) -> None:
    path = write_rules(
        tmp_path / "broken.yml",
        [{"name": "broken", "rules": [{"record": "dashboard:broken", "expr": "sum by (le (rate(x[5m]))"}]}],
    )
    assert promtool("check", "rules", str(path)).returncode != 0


async def test_every_query_reads_only_series_the_operator_serves() -> None:
    served = sample_names(await real_exposition())
    for title, expr in queries():
        named = series_names(expanded(expr))
        assert named, f"{title}: {expr}"
        assert named <= served, f"{title} reads series the operator does not serve: {sorted(named - served)}"
    for query in variable_queries():
        (metric,) = re.findall(r"label_values\((\w+)", query)
        assert metric in served, query


def test_the_kustomization_makes_a_configmap_for_grafanas_sidecar() -> None:
    kustomization = yaml.safe_load((GRAFANA / "kustomization.yaml").read_text())
    assert kustomization["generatorOptions"]["labels"]["grafana_dashboard"] == "1"
    (generator,) = kustomization["configMapGenerator"]
    assert generator["files"] == [DASHBOARD.name]
