"""The observability docs and the autoscaling guide name only series the operator really serves; the
observability table lists every series; the example HPA scales on a served external metric."""

from __future__ import annotations

import re

import yaml

from esml_operator.metrics.external import METRICS
from tests.controlplane.runner import REPO
from tests.unit.exposition import real_exposition, sample_names

OBSERVABILITY = REPO / "docs" / "operations" / "observability.md"
AUTOSCALING = REPO / "docs" / "guides" / "autoscaling.md"


def section(text: str, title: str) -> str:
    start = text.index(f"\n## {title}\n")
    end = text.index("\n## ", start + 1)
    return text[start:end]


async def test_every_series_the_docs_name_is_served() -> None:
    docs = OBSERVABILITY.read_text()
    text = docs + AUTOSCALING.read_text()
    named = set(re.findall(r"\b(?:esml|process)_[a-z_]+[a-z]\b(?!\.)", text))  # not esml_operator.controller
    served = sample_names(await real_exposition())
    assert named, "the docs name no series"
    assert named <= served, f"named in the docs but not served: {sorted(named - served)}"
    # every served family is in the table (prometheus-client's *_created series aside)
    families = {name for name in served if not name.endswith(("_bucket", "_count", "_sum", "_created"))}
    table = section(docs, "Metrics")

    def listed(name: str) -> bool:  # in full, or as a `_suffix` after its sibling (`_stalled` after `..._ready`)
        parts = name.split("_")
        return f"`{name}" in table or any(f"`_{'_'.join(parts[i:])}`" in table for i in range(2, len(parts)))

    missing = [name for name in sorted(families) if not listed(name)]
    assert not missing, missing


def test_the_example_hpa_uses_a_served_external_metric_and_average_value() -> None:
    hpa = yaml.safe_load((REPO / "manifests" / "examples" / "hpa-external-metrics.yaml").read_text())
    assert hpa["kind"] == "HorizontalPodAutoscaler" and hpa["apiVersion"] == "autoscaling/v2"
    external = hpa["spec"]["metrics"][0]["external"]
    assert external["metric"]["name"] in METRICS
    assert external["target"]["type"] == "AverageValue"
    assert hpa["spec"]["scaleTargetRef"]["kind"] == "ModelDeployment"
    behavior = hpa["spec"]["behavior"]
    assert behavior["scaleDown"]["stabilizationWindowSeconds"] >= 60  # no allocations dropped between bursts
    assert "hpa-external-metrics.yaml" in AUTOSCALING.read_text()


def test_the_readme_points_to_the_observability_docs() -> None:
    text = section((REPO / "README.md").read_text(), "Documentation")
    assert "(docs/operations/observability.md)" in text
    assert "manifests/prometheus" in text and "manifests/grafana" in text
