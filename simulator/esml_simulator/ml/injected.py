"""Inference stats a test injects (``/_sim/deployments/{id}/_inference_stats``), which override the simulated load.

``load_stats`` lays them over the values it computes from the simulated traffic.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

#: Counts: split over nodes, summed per deployment where Elasticsearch sums them.
COUNTS = (
    "inference_count",
    "number_of_pending_requests",
    "inference_cache_hit_count",
    "inference_cache_hit_count_last_minute",
    "throughput_last_minute",
    "peak_throughput_per_minute",
    "error_count",
    "rejected_execution_count",
    "timeout_count",
)
#: Milliseconds (doubles): the same on every node.
AVERAGES = (
    "average_inference_time_ms",
    "average_inference_time_ms_excluding_cache_hits",
    "average_inference_time_ms_last_minute",
)
FIELDS = COUNTS + AVERAGES


def parse_values(raw: Mapping[str, Any]) -> dict[str, float]:
    """Validate injected values (ValueError): known names, counts as non-negative integers, averages >= 0."""
    out: dict[str, float] = {}
    for key, value in raw.items():
        if key not in FIELDS:
            raise ValueError(f"unknown inference stat [{key}]; expected one of {list(FIELDS)}")
        if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
            raise ValueError(f"[{key}] must be a non-negative number")
        if key in COUNTS and not float(value).is_integer():
            raise ValueError(f"[{key}] must be an integer")
        out[key] = int(value) if key in COUNTS else float(value)
    return out


@dataclass
class InjectedStats:
    deployment: dict[str, float] = field(default_factory=dict)
    #: node id -> values for that node only
    nodes: dict[str, dict[str, float]] = field(default_factory=dict)
    set_at: float = 0.0

    def dump(self) -> dict[str, Any]:
        return {
            "deployment": dict(self.deployment),
            "nodes": {k: dict(v) for k, v in self.nodes.items()},
            "set_at": self.set_at,
        }

    @staticmethod
    def load(data: Mapping[str, Any]) -> InjectedStats:
        return InjectedStats(dict(data["deployment"]), {k: dict(v) for k, v in data["nodes"].items()}, data["set_at"])
