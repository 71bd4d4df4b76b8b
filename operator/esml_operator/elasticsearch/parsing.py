"""JSON bodies -> :mod:`models` values. Pure: no HTTP library, no I/O.

Every function raises :class:`ShapeError` when a required field is missing or
has the wrong type; the client turns that into ``MalformedResponseError``.
Shapes follow the fact sheet §3.1 (``assignment``) and §3.2 (``_stats``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from esml_operator.elasticsearch.load import parse_load
from esml_operator.elasticsearch.models import (
    AdaptiveAllocations,
    AllocationStatus,
    Assignment,
    ClusterInfo,
    DeploymentStats,
    EsVersion,
    InferenceEndpoint,
    InferenceServiceSettings,
    NodeRoute,
    TaskParameters,
)


class ShapeError(ValueError):
    """A response body does not have the documented shape."""


def _obj(value: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise ShapeError(f"{where} is not a JSON object")
    return value


def _str(obj: Mapping[str, Any], key: str, where: str) -> str:
    value = obj.get(key)
    if not isinstance(value, str):
        raise ShapeError(f"{where}.{key} is missing or not a string")
    return value


def _opt_str(obj: Mapping[str, Any], key: str, where: str) -> str | None:
    value = obj.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise ShapeError(f"{where}.{key} is not a string")
    return value


def _opt_int(obj: Mapping[str, Any], key: str, where: str) -> int | None:
    value = obj.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise ShapeError(f"{where}.{key} is not an integer")
    return value


def _int(obj: Mapping[str, Any], key: str, where: str) -> int:
    value = _opt_int(obj, key, where)
    if value is None:
        raise ShapeError(f"{where}.{key} is missing")
    return value


def _reason(obj: Mapping[str, Any], where: str) -> str | None:
    """Route/assignment reasons: new routes carry ``""``; treat that as no reason."""
    return _opt_str(obj, "reason", where) or None


def parse_cluster_info(body: Any) -> ClusterInfo:
    """``GET /``."""
    root = _obj(body, "response")
    version = _obj(root.get("version"), "version")
    number = _str(version, "number", "version")
    try:
        parsed = EsVersion.parse(number)
    except (ValueError, IndexError) as exc:
        raise ShapeError(f"version.number {number!r} is not a version") from exc
    return ClusterInfo(
        version=parsed,
        cluster_name=_opt_str(root, "cluster_name", "response") or "",
        cluster_uuid=_opt_str(root, "cluster_uuid", "response") or "",
        build_flavor=_opt_str(version, "build_flavor", "version") or "default",
    )


def parse_adaptive(value: Any, where: str) -> AdaptiveAllocations | None:
    if value is None:
        return None
    obj = _obj(value, where)
    enabled = obj.get("enabled", False)
    if not isinstance(enabled, bool):
        raise ShapeError(f"{where}.enabled is not a boolean")
    return AdaptiveAllocations(
        enabled=enabled,
        min_number_of_allocations=_opt_int(obj, "min_number_of_allocations", where),
        max_number_of_allocations=_opt_int(obj, "max_number_of_allocations", where),
    )


def parse_assignment(body: Any) -> Assignment:
    """The ``{"assignment": {...}}`` answer of ``_start`` and ``_update`` (§3.1).

    8.0-8.2 called the object ``allocation`` (state ``allocation_state``) and the
    counts ``model_threads``/``inference_threads``; those names are accepted too.
    """
    root = _obj(body, "response")
    raw = root.get("assignment", root.get("allocation"))
    obj = _obj(raw, "assignment")
    tp = _obj(obj.get("task_parameters"), "assignment.task_parameters")
    where = "assignment.task_parameters"
    model_id = _str(tp, "model_id", where)
    allocations = _opt_int(tp, "number_of_allocations", where)
    threads = _opt_int(tp, "threads_per_allocation", where)
    params = TaskParameters(
        model_id=model_id,
        deployment_id=_opt_str(tp, "deployment_id", where) or model_id,
        number_of_allocations=allocations if allocations is not None else _int(tp, "model_threads", where),
        threads_per_allocation=threads if threads is not None else _int(tp, "inference_threads", where),
        queue_capacity=_int(tp, "queue_capacity", where),
        priority=_opt_str(tp, "priority", where) or "normal",
        cache_size=_opt_str(tp, "cache_size", where),
        model_bytes=_opt_int(tp, "model_bytes", where),
    )
    table = _obj(obj.get("routing_table", {}), "assignment.routing_table")
    routes = []
    for node_id in sorted(table):
        rw = f"assignment.routing_table[{node_id}]"
        route = _obj(table[node_id], rw)
        routes.append(
            NodeRoute(
                node_id=node_id,
                routing_state=_str(route, "routing_state", rw),
                reason=_reason(route, rw),
                current_allocations=_opt_int(route, "current_allocations", rw),
                target_allocations=_opt_int(route, "target_allocations", rw),
            )
        )
    state = obj.get("assignment_state", obj.get("allocation_state"))
    if not isinstance(state, str):
        raise ShapeError("assignment.assignment_state is missing or not a string")
    return Assignment(
        task_parameters=params,
        assignment_state=state,
        routing_table=tuple(routes),
        reason=_reason(obj, "assignment"),
        start_time=_opt_str(obj, "start_time", "assignment"),
        max_assigned_allocations=_opt_int(obj, "max_assigned_allocations", "assignment"),
        adaptive_allocations=parse_adaptive(obj.get("adaptive_allocations"), "assignment.adaptive_allocations"),
    )


def _node_route(value: Any, where: str) -> NodeRoute:
    entry = _obj(value, where)
    node = _obj(entry.get("node", {}), f"{where}.node")
    node_id, node_name = "", None
    if node:
        # The node object is keyed by the node id; one key per entry.
        node_id = sorted(node)[0]
        details = node[node_id]
        if isinstance(details, Mapping):
            node_name = _opt_str(details, "name", f"{where}.node[{node_id}]")
    rs = _obj(entry.get("routing_state"), f"{where}.routing_state")
    return NodeRoute(
        node_id=node_id,
        routing_state=_str(rs, "routing_state", f"{where}.routing_state"),
        reason=_reason(rs, f"{where}.routing_state"),
        node_name=node_name,
        current_allocations=_opt_int(entry, "number_of_allocations", where),
        target_allocations=None,
    )


def parse_deployment_stats(value: Any, where: str) -> DeploymentStats:
    ds = _obj(value, where)
    model_id = _str(ds, "model_id", where)
    status_raw = ds.get("allocation_status")
    status = None
    if status_raw is not None:
        sw = f"{where}.allocation_status"
        so = _obj(status_raw, sw)
        status = AllocationStatus(
            allocation_count=_int(so, "allocation_count", sw),
            target_allocation_count=_int(so, "target_allocation_count", sw),
            state=_str(so, "state", sw),
        )
    nodes = ds.get("nodes", [])
    if not isinstance(nodes, list):
        raise ShapeError(f"{where}.nodes is not a list")
    return DeploymentStats(
        deployment_id=_opt_str(ds, "deployment_id", where) or model_id,
        model_id=model_id,
        state=_opt_str(ds, "state", where),
        reason=_reason(ds, where),
        allocation_status=status,
        number_of_allocations=_opt_int(ds, "number_of_allocations", where),
        threads_per_allocation=_opt_int(ds, "threads_per_allocation", where),
        queue_capacity=_opt_int(ds, "queue_capacity", where),
        cache_size=_opt_str(ds, "cache_size", where),
        priority=_opt_str(ds, "priority", where) or "normal",
        start_time_ms=_opt_int(ds, "start_time", where),
        adaptive_allocations=parse_adaptive(ds.get("adaptive_allocations"), f"{where}.adaptive_allocations"),
        nodes=tuple(_node_route(n, f"{where}.nodes[{i}]") for i, n in enumerate(nodes)),
        load=parse_load(ds),
    )


def parse_members(body: Any) -> frozenset[tuple[str, str, str]]:
    """The ML nodes one ``_stats`` page names: (node id, ephemeral id, version) of every node a deployment is
    routed to. A node's ephemeral id changes when it restarts (a rolling upgrade restarts every node), and a
    different cluster has other node ids: when this set changes, what ``GET /`` said may have changed too.
    Lenient: a page without these details gives empty strings, never an error."""
    found: set[tuple[str, str, str]] = set()
    entries = body.get("trained_model_stats") if isinstance(body, Mapping) else None
    for entry in entries if isinstance(entries, list) else ():
        stats = entry.get("deployment_stats") if isinstance(entry, Mapping) else None
        routes = stats.get("nodes") if isinstance(stats, Mapping) else None
        for route in routes if isinstance(routes, list) else ():
            node = route.get("node") if isinstance(route, Mapping) else None
            for node_id, details in node.items() if isinstance(node, Mapping) else ():
                about = details if isinstance(details, Mapping) else {}
                found.add((str(node_id), str(about.get("ephemeral_id", "")), str(about.get("version", ""))))
    return frozenset(found)


def parse_stats_page(body: Any) -> tuple[int, list[str], list[DeploymentStats]]:
    """One ``_stats`` page: (``count`` of models, model ids of every entry, deployments).

    Entries without ``deployment_stats`` (undeployed models) only contribute
    their model id.
    """
    root = _obj(body, "response")
    count = _int(root, "count", "response")
    # With filter_path, Elasticsearch leaves an empty list out: no entries when it counts no models.
    entries = root.get("trained_model_stats", [] if count == 0 else None)
    if not isinstance(entries, list):
        raise ShapeError("response.trained_model_stats is missing or not a list")
    model_ids: list[str] = []
    deployments: list[DeploymentStats] = []
    for i, raw in enumerate(entries):
        where = f"trained_model_stats[{i}]"
        entry = _obj(raw, where)
        model_ids.append(_str(entry, "model_id", where))
        if entry.get("deployment_stats") is not None:
            deployments.append(parse_deployment_stats(entry["deployment_stats"], f"{where}.deployment_stats"))
    return count, model_ids, deployments


def parse_inference_endpoint(value: Any, where: str = "endpoint") -> InferenceEndpoint:
    """One endpoint as ``GET _inference`` lists it and ``_update`` returns it.

    Only the ``service_settings`` of ML-node services (``elasticsearch``,
    ``elser``) are read: other services (OpenAI, Cohere, ...) have settings of
    their own shapes, which the operator does not need.
    """
    obj = _obj(value, where)
    endpoint = InferenceEndpoint(
        inference_id=_str(obj, "inference_id", where),
        task_type=_str(obj, "task_type", where),
        service=_str(obj, "service", where),
    )
    if not endpoint.runs_on_ml_nodes:
        return endpoint
    sw = f"{where}.service_settings"
    settings = _obj(obj.get("service_settings", {}), sw)
    return InferenceEndpoint(
        inference_id=endpoint.inference_id,
        task_type=endpoint.task_type,
        service=endpoint.service,
        service_settings=InferenceServiceSettings(
            model_id=_opt_str(settings, "model_id", sw),
            deployment_id=_opt_str(settings, "deployment_id", sw),
            num_allocations=_opt_int(settings, "num_allocations", sw),
            num_threads=_opt_int(settings, "num_threads", sw),
            adaptive_allocations=parse_adaptive(settings.get("adaptive_allocations"), f"{sw}.adaptive_allocations"),
        ),
    )


def parse_inference_endpoints(body: Any) -> tuple[InferenceEndpoint, ...]:
    """``GET _inference/_all``: ``{"endpoints": [...]}``; 8.11 and 8.12 call the list ``models``."""
    root = _obj(body, "response")
    entries = root.get("endpoints", root.get("models"))
    if not isinstance(entries, list):
        raise ShapeError("response.endpoints is missing or not a list")
    return tuple(parse_inference_endpoint(raw, f"endpoints[{i}]") for i, raw in enumerate(entries))
