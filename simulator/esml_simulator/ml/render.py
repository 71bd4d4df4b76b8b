"""Response shapes: the ``assignment`` object (start/update) and ``_stats`` entries (the statistics API)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from esml_simulator.ml import queueing
from esml_simulator.ml.cluster import MlCluster
from esml_simulator.ml.load_stats import node_load
from esml_simulator.ml.models import TrainedModel
from esml_simulator.ml.state import Deployment, Node, Route
from esml_simulator.units import human_bytes
from esml_simulator.versions import EsVersion


def iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def iso_ms(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def ms(ts: float) -> int:
    return int(ts * 1000)


def _route(route: Route, version: EsVersion) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if version.route_allocations:
        out["current_allocations"] = route.current
        out["target_allocations"] = route.target
    out["routing_state"] = route.state
    out["reason"] = route.reason
    return out


def thread_fields(dep: Deployment, version: EsVersion) -> dict[str, int]:
    """Threads and allocations under the names of the emulated version (renamed in 8.3)."""
    if version.new_thread_names:
        return {"threads_per_allocation": dep.threads, "number_of_allocations": dep.number_of_allocations}
    return {"inference_threads": dep.threads, "model_threads": dep.number_of_allocations}


def task_parameters(dep: Deployment, version: EsVersion) -> dict[str, Any]:
    out: dict[str, Any] = {"model_id": dep.model_id}
    if version.has_deployment_id:
        out["deployment_id"] = dep.deployment_id
    out["model_bytes"] = dep.model_bytes
    out.update(thread_fields(dep, version))
    out["queue_capacity"] = dep.queue_capacity
    if version.route_allocations:
        out["cache_size"] = dep.cache_size.string_rep()
    if version.has_priority:
        out["priority"] = dep.priority
    if version.has_memory_fields:
        out["per_deployment_memory_bytes"] = dep.per_deployment_memory_bytes
        out["per_allocation_memory_bytes"] = dep.per_allocation_memory_bytes
    return out


def assignment(dep: Deployment, version: EsVersion) -> dict[str, Any]:
    """The body of a start/update response."""
    body: dict[str, Any] = {
        "task_parameters": task_parameters(dep, version),
        "routing_table": {nid: _route(r, version) for nid, r in sorted(dep.routes.items())},
    }
    state_key = "assignment_state" if version.assignment_naming else "allocation_state"
    body[state_key] = dep.state
    if dep.reason:
        body["reason"] = dep.reason
    body["start_time"] = iso(dep.start_time)
    if version.route_allocations:
        body["max_assigned_allocations"] = dep.max_assigned
    if version.has_adaptive:
        body["adaptive_allocations"] = dep.adaptive.render() if dep.adaptive else None
    return {("assignment" if version.assignment_naming else "allocation"): body}


def node_info(node: Node, version: EsVersion) -> dict[str, Any]:
    info: dict[str, Any] = {
        "name": node.name,
        "ephemeral_id": node.ephemeral_id,
        "transport_address": f"127.0.0.1:{9300 + node.index}",
        "external_id": node.name,
        "attributes": {
            "ml.allocated_processors": str(node.processors),
            "ml.allocated_processors_double": f"{float(node.processors)}",
            "ml.machine_memory": str(node.memory),
            "ml.max_jvm_size": str(node.memory // 4),
            "xpack.installed": "true",
        },
        "roles": ["ml", "remote_cluster_client"],
        "version": str(version),
    }
    if version.has_memory_fields:
        info["min_index_version"] = 8000099 if version.major >= 9 else 7000099
        info["max_index_version"] = 9039000 if version.major >= 9 else 8521000
    return {node.id: info}


def _node_stats(
    dep: Deployment, route: Route, node: Node | None, version: EsVersion, human: bool, values: dict[str, Any] | None
) -> dict[str, Any]:
    """One ``nodes[]`` entry in ``AssignmentStats.NodeStats`` order; ``values`` from :func:`node_load`."""
    out: dict[str, Any] = {}
    if node is not None:
        out["node"] = node_info(node, version)
    if route.state != "started" or values is None:
        state: dict[str, Any] = {"routing_state": route.state}
        if route.reason:
            state["reason"] = route.reason
        out["routing_state"] = state
        out["peak_throughput_per_minute"] = 0
        out["throughput_last_minute"] = 0
        return out
    out["routing_state"] = {"routing_state": "started"}
    out["inference_count"] = values["inference_count"]
    if values["inference_count"] > 0:
        for key in ("average_inference_time_ms", "average_inference_time_ms_excluding_cache_hits"):
            out[key] = float(values.get(key, 0.0))
    out["inference_cache_hit_count"] = values["inference_cache_hit_count"]
    last_access = values.get("last_access")
    if last_access is not None:
        out["last_access"] = ms(last_access)
        if human:
            out["last_access_string"] = iso_ms(last_access)
    out["number_of_pending_requests"] = values["number_of_pending_requests"]
    for key in ("error_count", "rejected_execution_count", "timeout_count"):
        if values[key] > 0:
            out[key] = values[key]
    started = route.started_at if route.started_at is not None else dep.start_time
    out["start_time"] = ms(started)
    if human:
        out["start_time_string"] = iso_ms(started)
    threads_key, allocations_key = thread_fields(dep, version)  # per-node names follow the version too
    out[threads_key] = dep.threads
    out[allocations_key] = route.current
    out["peak_throughput_per_minute"] = values["peak_throughput_per_minute"]
    out["throughput_last_minute"] = values["throughput_last_minute"]
    if "average_inference_time_ms_last_minute" in values:
        out["average_inference_time_ms_last_minute"] = float(values["average_inference_time_ms_last_minute"])
    out["inference_cache_hit_count_last_minute"] = values["inference_cache_hit_count_last_minute"]
    return out


def deployment_stats(cluster: MlCluster, dep: Deployment, human: bool) -> dict[str, Any]:
    version = cluster.version
    out: dict[str, Any] = {}
    if version.has_deployment_id:
        out["deployment_id"] = dep.deployment_id
    out["model_id"] = dep.model_id
    out.update(thread_fields(dep, version))
    if version.has_adaptive and dep.adaptive is not None:
        out["adaptive_allocations"] = dep.adaptive.render()
    out["queue_capacity"] = dep.queue_capacity
    state = dep.stats_state()
    out["state"] = state
    reason = dep.reason
    if state == "failed" and not reason:
        reason = "All node routes are failed; see node route reason for details"
    if reason:
        out["reason"] = reason
    if dep.state in ("starting", "started"):
        out["allocation_status"] = {
            "allocation_count": dep.allocation_count,
            "target_allocation_count": dep.number_of_allocations,
            "state": dep.allocation_state(),
        }
    if version.route_allocations:
        out["cache_size"] = human_bytes(dep.cache_size.bytes)
    if version.has_priority:
        out["priority"] = dep.priority
    out["start_time"] = ms(dep.start_time)
    if human:
        out["start_time_string"] = iso_ms(dep.start_time)
    loads = node_load(dep)
    for key in ("error_count", "rejected_execution_count", "timeout_count", "inference_count"):
        total = sum(int(v[key]) for v in loads.values())
        if total > 0:
            out[key] = total
    out["peak_throughput_per_minute"] = sum(int(v["peak_throughput_per_minute"]) for v in loads.values())
    out["nodes"] = [
        _node_stats(dep, route, cluster.find_node(node_id), version, human, loads.get(node_id))
        for node_id, route in sorted(dep.routes.items())
    ]
    return out


def model_stats_entry(
    cluster: MlCluster, model: TrainedModel, dep: Deployment | None, human: bool, compat_major: int
) -> dict[str, Any]:
    size = model.size_bytes
    native = model.required_native_memory(dep.number_of_allocations if dep else 1)
    size_stats: dict[str, Any] = {"model_size_bytes": size, "required_native_memory_bytes": native}
    if human:
        size_stats = {
            "model_size": human_bytes(size),
            "model_size_bytes": size,
            "required_native_memory": human_bytes(native),
            "required_native_memory_bytes": native,
        }
    ids = {model.model_id} | ({dep.deployment_id} if dep else set())
    pipelines = cluster.pipeline_refs(ids)
    inference_count = queueing.whole(dep.load.accumulated) if dep else 0
    out: dict[str, Any] = {
        "model_id": model.model_id,
        "model_size_stats": size_stats,
        "pipeline_count": len(pipelines),
        "inference_stats": {
            "failure_count": 0,
            "inference_count": inference_count,
            "cache_miss_count": 0,
            "missing_all_fields_count": 0,
            "timestamp": ms(cluster.clock.now()),
        },
    }
    if pipelines:
        out["ingest"] = {
            "total": {"count": 0, "time_in_millis": 0, "current": 0, "failed": 0},
            "pipelines": {
                p: {
                    "count": 0,
                    "time_in_millis": 0,
                    "current": 0,
                    "failed": 0,
                    "ingested_as_first_pipeline_in_bytes": 0,
                    "produced_as_first_pipeline_in_bytes": 0,
                    "processors": [],
                }
                for p in pipelines
            },
        }
    if dep is not None and compat_major >= 8:
        out["deployment_stats"] = deployment_stats(cluster, dep, human)
    return out
