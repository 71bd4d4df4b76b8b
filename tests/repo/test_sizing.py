"""docs/operations/sizing.md: its figures are the bench's, its advice follows its rule, the installs follow it.

The measured table must repeat the bench results files it names; each row of
requests and limits must keep the headroom the document states over the
measured (or, beyond the largest measurement, the fitted) memory and CPU; the
row marked as the default must be what ``manifests/`` and the chart set.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
DOC = REPO / "docs" / "operations" / "sizing.md"
DEPLOYMENT = REPO / "manifests" / "base" / "deployment.yaml"
CHART_VALUES = REPO / "charts" / "esml-operator" / "values.yaml"
RULE = REPO / "manifests" / "prometheus" / "prometheusrule.yaml"
# The document's rule: requests cover the steady use, the memory limit half as much again as the peak.
MEMORY_LIMIT_HEADROOM = 1.5
CPU_REQUEST_HEADROOM = 2.0


@dataclass(frozen=True)
class Measured:
    resources: int
    clusters: int
    steady_mib: float
    peak_mib: float
    idle_cpu_percent: float
    source: Path


def table(heading: str) -> list[list[str]]:
    """The cells of the first Markdown table after ``heading`` (header and separator left out)."""
    text = DOC.read_text()
    start = text.index(f"\n## {heading}\n")
    rows = []
    for line in text[start:].splitlines()[2:]:
        if line.startswith("|"):
            rows.append([cell.strip() for cell in line.strip("|").split("|")])
        elif rows:
            break
    return rows[2:]


def number(cell: str) -> float:
    return float(re.sub(r"[^\d.]", "", cell.split()[0]))


def measured() -> list[Measured]:
    found = []
    for resources, clusters, steady, peak, cpu, source in table("Measured"):
        link = re.fullmatch(r"\[[^\]]+\]\(([^)]+)\)", source)
        assert link, f"the source cell {source!r} links the bench results file"
        path = (DOC.parent / link.group(1)).resolve()
        found.append(
            Measured(int(number(resources)), int(number(clusters)), number(steady), number(peak), number(cpu), path)
        )
    return found


def figure_2(path: Path) -> dict[str, Any]:
    results = json.loads(path.read_text())
    return next(f for f in results["figures"] if f["number"] == 2)


def mebibytes(quantity: str) -> float:
    units = {"Mi": 1.0, "Gi": 1024.0}
    match = re.fullmatch(r"(\d+)(Mi|Gi)", quantity)
    assert match, f"memory as Mi or Gi: {quantity!r}"
    return int(match.group(1)) * units[match.group(2)]


def millicores(quantity: str) -> float:
    return float(quantity[:-1]) if quantity.endswith("m") else float(quantity) * 1000


def fitted_peak(points: list[Measured], resources: int) -> float:
    """Peak RSS at ``resources``: measured, or the least-squares line through the measurements."""
    exact = [p.peak_mib for p in points if p.resources == resources]
    if exact:
        return exact[0]
    n = len(points)
    mean_x = sum(p.resources for p in points) / n
    mean_y = sum(p.peak_mib for p in points) / n
    slope = sum((p.resources - mean_x) * (p.peak_mib - mean_y) for p in points) / sum(
        (p.resources - mean_x) ** 2 for p in points
    )
    return mean_y + slope * (resources - mean_x)


def recommendations() -> dict[str, dict[str, dict[str, str]]]:
    """``row label -> resources`` as a Deployment spells them."""
    return {
        label: {"requests": {"cpu": cpu_req, "memory": mem_req}, "limits": {"cpu": cpu_lim, "memory": mem_lim}}
        for label, mem_req, mem_lim, cpu_req, cpu_lim in (
            [cell.strip("`") for cell in row] for row in table("Requests and limits")
        )
    }


@pytest.mark.parametrize("row", measured(), ids=lambda m: f"{m.resources}-resources")
def test_measured_rows_repeat_the_bench_results(row: Measured) -> None:
    fig = figure_2(row.source)
    assert fig["title"] == f"Scale ({row.resources} ModelDeployments on {row.clusters} clusters)"
    values = {r["metric"]: r["value"] for r in fig["rows"]}
    assert round(values["RSS"]) == row.steady_mib
    assert round(values["idle CPU"], 1) == row.idle_cpu_percent
    peak = [float(m.group(1)) for note in fig["notes"] if (m := re.match(r"peak RSS (\d+) MB", note))]
    assert peak == [row.peak_mib]


def test_the_table_covers_the_benchmarks_own_run() -> None:
    assert REPO / "bench" / "results.json" in [m.source for m in measured()]


def test_every_recommendation_keeps_the_stated_headroom() -> None:
    points = measured()
    rows = recommendations()
    assert len(rows) >= 3
    for label, resources in rows.items():
        size = int(number(label))
        peak = fitted_peak(points, size)
        idle = [p.idle_cpu_percent for p in points if p.resources == size]
        assert mebibytes(resources["requests"]["memory"]) >= peak, label
        assert mebibytes(resources["limits"]["memory"]) >= MEMORY_LIMIT_HEADROOM * peak, label
        if idle:  # CPU: measured sizes only (idle CPU depends on the resync interval more than on growth)
            assert millicores(resources["requests"]["cpu"]) >= CPU_REQUEST_HEADROOM * idle[0] * 10, label
        assert millicores(resources["limits"]["cpu"]) >= millicores(resources["requests"]["cpu"]), label


def default_row() -> dict[str, dict[str, str]]:
    (default,) = [resources for label, resources in recommendations().items() if "default" in label]
    return default


def test_the_deployment_sets_the_default_row() -> None:
    (deployment,) = [d for d in yaml.safe_load_all(DEPLOYMENT.read_text()) if d]
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    assert container["resources"] == default_row()


def test_the_chart_sets_the_default_row() -> None:
    assert yaml.safe_load(CHART_VALUES.read_text())["resources"] == default_row()


def fleet_peak(path: Path) -> tuple[int, float]:
    """Figure 7's (resources, peak RSS) in a bench results file: the largest measured count."""
    results = json.loads(path.read_text())
    fleet = next(f for f in results["figures"] if f["number"] == 7)
    (peak,) = [float(m.group(1)) for note in fleet["notes"] if (m := re.search(r"peak RSS (\d+) MB", note))]
    resources = re.search(r"(\d+)/\1 Ready", " ".join(fleet["notes"]))
    assert resources, fleet["notes"]
    return int(resources.group(1)), peak


#: How far the memory alert's straight line may sit from a measured peak: never more than 5 % below one (an OOM
#: kill it would not see coming), and from 500 ModelDeployments up never more than 10 % above one (a warning that
#: comes early). The measured growth bends (about 39 KiB per ModelDeployment from 500 to 2,000, 22 KiB from 2,000
#: to 10,000), so no straight line is within 5 % both ways of every point.
ALERT_UNDER, ALERT_OVER = 0.05, 0.10


def test_the_memory_limit_alert_projects_with_the_measured_line() -> None:
    """EsmlOperatorMemoryLimitTooSmall's "base MiB + KiB per ModelDeployment" never projects less than a measured
    peak (within 5 %), figure 7's fleet included, and from 500 ModelDeployments up never more than 10 % above one:
    the growth is steeper for the first few hundred, and an alert may over-project where the limit is far away."""
    base_mib, per_resource_kib = alert_line()
    points = [(p.resources, p.peak_mib) for p in measured()] + [fleet_peak(REPO / "bench" / "results.json")]
    for resources, peak in points:
        projected = base_mib + per_resource_kib * resources / 1024
        assert projected >= (1 - ALERT_UNDER) * peak, (resources, projected, peak)
        if resources >= 500:
            assert projected <= (1 + ALERT_OVER) * peak, (resources, projected, peak)


def test_the_memory_limit_alert_is_quiet_for_an_install_sized_by_the_table() -> None:
    """The alert fires when the projection passes 90 % of the limit: never for a row of the table at its count."""
    base_mib, per_resource_kib = alert_line()
    for label, resources in recommendations().items():
        projected = base_mib + per_resource_kib * int(number(label)) / 1024
        assert projected <= 0.9 * mebibytes(resources["limits"]["memory"]), (label, projected)


def alert_line() -> tuple[int, int]:
    """(base MiB, KiB per ModelDeployment) of EsmlOperatorMemoryLimitTooSmall's expression."""
    rules = [r for g in yaml.safe_load(RULE.read_text())["spec"]["groups"] for r in g["rules"]]
    (expr,) = [str(r["expr"]) for r in rules if r.get("alert") == "EsmlOperatorMemoryLimitTooSmall"]
    line = re.search(r"\((\d+) \* 2\^20 \+ (\d+) \* 2\^10 \* max_over_time\(esml_modeldeployments\[", expr)
    assert line, expr
    return int(line.group(1)), int(line.group(2))
