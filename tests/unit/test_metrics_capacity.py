"""The capacity shortfall gauges read status.capacity: its numbers while short, 0 otherwise."""

from __future__ import annotations

from typing import Any

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from esml_operator.controller.registry import Registry
from esml_operator.controller.snapshots import SnapshotCache
from esml_operator.metrics.load import LoadView
from esml_operator.metrics.prometheus import _StateCollector
from tests.unit.runtime_fakes import resource

URL = "https://es-a:9200"


def _samples(*bodies: dict[str, Any]) -> dict[tuple[str, str], float]:
    registry = Registry()
    for body in bodies:
        registry.observe(body)
    prometheus = CollectorRegistry()
    prometheus.register(_StateCollector(registry, LoadView(registry, SnapshotCache(min_interval=1.0)), lambda: None))
    found = {}
    for family in text_string_to_metric_families(generate_latest(prometheus).decode()):
        for sample in family.samples:
            if "capacity" in sample.name:
                found[sample.name, sample.labels["name"]] = sample.value
    return found


def test_shortfall_gauges_follow_status_capacity() -> None:
    short = {**resource("short", URL), "status": {"capacity": {"shortfallProcessors": 4, "shortfallMemoryBytes": 2048}}}
    fine = {**resource("fine", URL), "status": {"allocations": 2}}
    samples = _samples(short, fine)
    assert samples == {
        ("esml_modeldeployment_capacity_shortfall_processors", "short"): 4.0,
        ("esml_modeldeployment_capacity_shortfall_memory_bytes", "short"): 2048.0,
        ("esml_modeldeployment_capacity_shortfall_processors", "fine"): 0.0,
        ("esml_modeldeployment_capacity_shortfall_memory_bytes", "fine"): 0.0,
    }
