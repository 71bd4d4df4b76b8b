"""The README's Observability and Autoscaling sections name only series the operator really serves."""

from __future__ import annotations

import re

import yaml
from prometheus_client.parser import text_string_to_metric_families

from esml_operator.handlers.external_metrics import METRICS
from esml_operator.handlers.metrics import LeaderState
from tests.controlplane.runner import REPO
from tests.unit.runtime_fakes import FakeES, FakeKube, operator_for, resource, until

URL = "https://es-a:9200"


def section(text: str, title: str) -> str:
    start = text.index(f"\n## {title}\n")
    end = text.index("\n## ", start + 1)
    return text[start:end]


async def served_names() -> set[str]:
    es = FakeES()
    op = operator_for({URL: es}, FakeKube())
    op.metrics.leader = lambda: LeaderState(True, 1, 1)
    op.metrics.observe_watch_event("ADDED")
    op.runtime.observe("ADDED", resource("ner", URL))
    await until(lambda: "ner" in es.deployments, what="a reconciled resource")
    await until(lambda: not op.runtime.queue.running, what="idle")
    body = op.metrics.exposition(None)[0].decode()
    await op.close()
    names: set[str] = set()
    for family in text_string_to_metric_families(body):
        suffixes = {"counter": ("_total",), "histogram": ("", "_bucket", "_count", "_sum")}.get(family.type, ("",))
        names.update(family.name + suffix for suffix in suffixes)
    return names


async def test_every_series_the_readme_names_is_served() -> None:
    readme = (REPO / "README.md").read_text()
    text = section(readme, "Observability") + section(readme, "Autoscaling")
    named = set(re.findall(r"\besml_[a-z_]+[a-z]\b(?!\.)", text))  # not the logger esml_operator.handlers
    served = await served_names()
    assert named, "the sections name no series"
    assert named <= served, f"named in the README but not served: {sorted(named - served)}"
    # every served family is in the table (prometheus-client's *_created series aside)
    families = {name for name in served if not name.endswith(("_bucket", "_count", "_sum", "_created"))}
    table = section(readme, "Observability")

    def listed(name: str) -> bool:  # in full, or as a `_suffix` after its sibling (`_stalled` after `..._ready`)
        parts = name.split("_")
        return f"`{name}" in table or any(f"`_{'_'.join(parts[i:])}`" in table for i in range(2, len(parts)))

    missing = [name for name in sorted(families) if not listed(name)]
    assert not missing, missing


def test_the_readme_hpa_uses_a_served_external_metric_and_average_value() -> None:
    text = section((REPO / "README.md").read_text(), "Autoscaling")
    blocks = [yaml.safe_load(b) for b in re.findall(r"```yaml\n(.*?)```", text, re.S)]
    (hpa,) = [b for b in blocks if b.get("kind") == "HorizontalPodAutoscaler"]
    external = hpa["spec"]["metrics"][0]["external"]
    assert external["metric"]["name"] in METRICS
    assert external["target"]["type"] == "AverageValue"
    assert hpa["spec"]["scaleTargetRef"]["kind"] == "ModelDeployment"


def test_the_alert_rules_parse() -> None:
    text = section((REPO / "README.md").read_text(), "Observability")
    blocks = [yaml.safe_load(b) for b in re.findall(r"```yaml\n(.*?)```", text, re.S)]
    (rules,) = [b for b in blocks if "groups" in b]
    alerts = {rule["alert"] for group in rules["groups"] for rule in group["rules"]}
    assert {"ModelDeploymentStalled", "ElasticsearchUnreachable", "EsmlOperatorNoLeader"} <= alerts
    stalled = next(r for g in rules["groups"] for r in g["rules"] if r["alert"] == "ModelDeploymentStalled")
    assert stalled["for"] == "10m"
