"""The inference load of one deployment, from its ``_stats`` entry. Pure: no HTTP library, no I/O.

Elasticsearch reports load per routed node (``deployment_stats.nodes[]``) and
sums part of it per deployment (fact sheet §3.2): ``inference_count``,
``error_count``, ``rejected_execution_count`` and ``timeout_count`` appear at
the deployment level only when > 0, ``peak_throughput_per_minute`` always;
``number_of_pending_requests``, ``throughput_last_minute`` and the average
inference times are per node only. Values of an unexpected type are treated
as absent: load feeds metrics, never a decision, so it must not make a poll
fail.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class InferenceLoad:
    """A deployment's inference load as Elasticsearch reported it (counts are cumulative since its start)."""

    pending_requests: int = 0  # queued on the nodes right now (sum over nodes)
    inference_count: int = 0  # completed inferences (cumulative)
    average_inference_time_ms: float | None = None  # over all nodes, weighted by each node's count; None: none yet
    throughput_last_minute: int = 0  # inferences in the last minute (sum over nodes)
    peak_throughput_per_minute: int = 0  # the busiest minute since the start
    rejected_execution_count: int = 0  # refused because the queue was full (cumulative)
    timeout_count: int = 0  # timed out in the queue (cumulative)
    error_count: int = 0  # failed (cumulative)


def _count(obj: Mapping[str, Any], key: str) -> int | None:
    value = obj.get(key)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        return None
    return value


def _number(obj: Mapping[str, Any], key: str) -> float | None:
    value = obj.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or value < 0:
        return None
    return float(value)


#: Counters Elasticsearch sums per deployment when they are > 0 (else absent: the nodes' sum stands in).
_SUMMED = ("inference_count", "peak_throughput_per_minute", "rejected_execution_count", "timeout_count", "error_count")
#: Counters only the nodes report.
_PER_NODE = ("number_of_pending_requests", "throughput_last_minute")


#: The fields :func:`parse_load` reads: of ``deployment_stats``, and of each of its ``nodes[]``.
DEPLOYMENT_FIELDS = _SUMMED
NODE_FIELDS = (*_SUMMED, *_PER_NODE, "average_inference_time_ms")


def parse_load(deployment_stats: Mapping[str, Any]) -> InferenceLoad:
    """The load in one ``deployment_stats`` object (its ``nodes[]`` included), in one walk over the nodes."""
    raw_nodes = deployment_stats.get("nodes")
    nodes: Sequence[Any] = raw_nodes if isinstance(raw_nodes, list) else ()
    sums = dict.fromkeys((*_SUMMED, *_PER_NODE), 0)
    weighted, counted = 0.0, 0
    for node in nodes:
        if not isinstance(node, Mapping):
            continue
        for key in sums:
            sums[key] += _count(node, key) or 0
        count, average = _count(node, "inference_count"), _number(node, "average_inference_time_ms")
        if count and average is not None:
            weighted += average * count
            counted += count
    for key in _SUMMED:  # the deployment-level figure when Elasticsearch gives it
        total = _count(deployment_stats, key)
        if total is not None:
            sums[key] = total
    return InferenceLoad(
        pending_requests=sums["number_of_pending_requests"],
        inference_count=sums["inference_count"],
        average_inference_time_ms=weighted / counted if counted else None,
        throughput_last_minute=sums["throughput_last_minute"],
        peak_throughput_per_minute=sums["peak_throughput_per_minute"],
        rejected_execution_count=sums["rejected_execution_count"],
        timeout_count=sums["timeout_count"],
        error_count=sums["error_count"],
    )
