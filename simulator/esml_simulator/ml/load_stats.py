"""Per-node inference load of a deployment, as ``_stats`` reports it: simulated traffic or injected values.

Elasticsearch reports load per routed node and sums some of it per
deployment ("Get trained models statistics API"). The simulator computes the node values from
the simulated traffic (``/_sim/deployments/{id}/_load``, queued per node as
``queueing`` models it) unless a test injects
them (``/_sim/deployments/{id}/_inference_stats``). Injected deployment-level
counts are split over the started nodes in proportion to their allocations
(the parts add up exactly); averages apply to every node; per-node values
override both.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from esml_simulator.ml import calls, queueing
from esml_simulator.ml.injected import COUNTS, InjectedStats

if TYPE_CHECKING:
    from esml_simulator.ml.state import Deployment


def split(total: int, weights: dict[str, int]) -> dict[str, int]:
    """``total`` over the keys in proportion to ``weights`` (largest remainder, so the parts sum to ``total``)."""
    weight_sum = sum(weights.values())
    if weight_sum <= 0:
        return dict.fromkeys(weights, 0)
    exact = {k: total * w / weight_sum for k, w in weights.items()}
    parts = {k: int(v) for k, v in exact.items()}
    left = total - sum(parts.values())
    for key in sorted(weights, key=lambda k: (-(exact[k] - parts[k]), k))[:left]:
        parts[key] += 1
    return parts


def node_load(dep: Deployment) -> dict[str, dict[str, Any]]:
    """Load fields (plus ``last_access`` in seconds, or None) per started route, keyed by node id."""
    started = {nid: r.current if r.routable else 0 for nid, r in dep.routes.items() if r.state == "started"}
    load = dep.load
    counts = split(queueing.whole(load.accumulated), started)
    hits = split(queueing.whole(load.cache_hits), started)
    out: dict[str, dict[str, Any]] = {}
    for nid in started:
        values: dict[str, Any] = dict.fromkeys(COUNTS, 0)
        values.update(_queue_values(dep, nid), inference_count=counts[nid], inference_cache_hit_count=hits[nid])
        if counts[nid] > 0:
            values["average_inference_time_ms"] = load.inference_time_ms
            values["average_inference_time_ms_excluding_cache_hits"] = load.inference_time_ms
            values["last_access"] = load.last_request_at
        if values["throughput_last_minute"] > 0:
            values["average_inference_time_ms_last_minute"] = load.inference_time_ms
        out[nid] = values
    if dep.injected is not None:
        _overlay(out, started, dep.injected)
    return out


def _queue_values(dep: Deployment, node_id: str) -> dict[str, int]:
    """Throughput, pending requests and rejections of one node, from its queue (see ``queueing``)."""
    load = dep.load
    rates = queueing.node_rates(dep).get(node_id)
    queued = load.queues.get(node_id, 0.0)
    pending_calls, finished_calls = calls.node_values(dep, node_id, load.since)
    rpm = (0 if rates is None else queueing.throughput_per_minute(rates, queued)) + finished_calls
    pending = (0 if rates is None else queueing.pending(rates, queued)) + pending_calls
    return {
        "throughput_last_minute": rpm,
        "peak_throughput_per_minute": max(rpm, load.peak_per_minute.get(node_id, 0)),
        "number_of_pending_requests": pending,
        "rejected_execution_count": queueing.whole(load.rejected.get(node_id, 0.0)),
    }


def _overlay(out: dict[str, dict[str, Any]], started: dict[str, int], injected: InjectedStats) -> None:
    for key, value in injected.deployment.items():
        parts = split(int(value), started) if key in COUNTS else dict.fromkeys(started, value)
        for nid, part in parts.items():
            out[nid][key] = part
    for nid, values in injected.nodes.items():
        if nid in out:
            out[nid].update(values)
    for values in out.values():
        if values["inference_count"] > 0 and values.get("last_access") is None:
            values["last_access"] = injected.set_at
