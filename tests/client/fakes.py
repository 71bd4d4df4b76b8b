"""A path-routed fake Elasticsearch for ``httpx.MockTransport`` plus realistic payloads.

Payload shapes follow the fact sheet docs/reference/elasticsearch/ml-deployments.md ("What a
deployment looks like", "Errors") and Elastic's API reference pages it lists.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

import httpx

PRODUCT_HEADERS = {"X-Elastic-Product": "Elasticsearch"}

Handler = Callable[[httpx.Request], httpx.Response]


def es_json(status: int, body: Any, headers: Mapping[str, str] | None = None) -> httpx.Response:
    """A JSON answer as Elasticsearch sends it (with the product header)."""
    return httpx.Response(status, json=body, headers={**PRODUCT_HEADERS, **(headers or {})})


def es_error_body(
    status: int, error_type: str, reason: str, caused_by: Mapping[str, str] | None = None
) -> dict[str, Any]:
    error: dict[str, Any] = {
        "root_cause": [{"type": error_type, "reason": reason}],
        "type": error_type,
        "reason": reason,
    }
    if caused_by is not None:
        error["caused_by"] = dict(caused_by)
    return {"error": error, "status": status}


def es_error(
    status: int,
    error_type: str,
    reason: str,
    *,
    caused_by: Mapping[str, str] | None = None,
    headers: Mapping[str, str] | None = None,
) -> httpx.Response:
    return es_json(status, es_error_body(status, error_type, reason, caused_by), headers)


class FakeES:
    """Routes requests by (method, raw percent-encoded path); records every request it saw."""

    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []
        self._routes: dict[tuple[str, str], Handler | list[httpx.Response] | httpx.Response] = {}

    def route(self, method: str, path: str, answer: Handler | list[httpx.Response] | httpx.Response) -> None:
        """``answer``: a handler, one response (every time) or a list (one per call, in order)."""
        self._routes[(method, path)] = answer

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        raw_path = request.url.raw_path.split(b"?", 1)[0].decode("ascii")  # still percent-encoded
        answer = self._routes.get((request.method, raw_path))
        if answer is None:
            return es_json(
                400,
                {"error": f"no handler found for uri [{request.url.path}] and method [{request.method}]"},
            )
        if isinstance(answer, list):
            return answer.pop(0)
        if isinstance(answer, httpx.Response):
            return answer
        return answer(request)

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self)

    @property
    def last(self) -> httpx.Request:
        return self.requests[-1]

    def last_json(self) -> Any:
        content = self.last.content
        return json.loads(content) if content else None


def info_body(number: str = "8.15.0", flavor: str = "default") -> dict[str, Any]:
    return {
        "name": "es-0",
        "cluster_name": "quickstart",
        "cluster_uuid": "S0zKQ2m4QyCvnqkz5mQf3A",
        "version": {
            "number": number,
            "build_flavor": flavor,
            "build_type": "docker",
            "lucene_version": "9.11.1",
            "minimum_wire_compatibility_version": "7.17.0",
            "minimum_index_compatibility_version": "7.0.0",
        },
        "tagline": "You Know, for Search",
    }


def assignment_body(
    *,
    model_id: str = "my-model",
    deployment_id: str = "my-model-for-search",
    number_of_allocations: int = 2,
    state: str = "started",
    adaptive: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """§3.1, verbatim shape."""
    return {
        "assignment": {
            "task_parameters": {
                "model_id": model_id,
                "deployment_id": deployment_id,
                "model_bytes": 265632637,
                "threads_per_allocation": 1,
                "number_of_allocations": number_of_allocations,
                "queue_capacity": 10000,
                "cache_size": "265632637b",
                "priority": "normal",
                "per_deployment_memory_bytes": 0,
                "per_allocation_memory_bytes": 0,
            },
            "routing_table": {
                "uckeG3R8TLe2MMNBQ6AGrw": {
                    "current_allocations": 1,
                    "target_allocations": 2,
                    "routing_state": "started",
                    "reason": "",
                }
            },
            "assignment_state": state,
            "reason": "Could not assign (more) allocations on node [uckeG3R8TLe2MMNBQ6AGrw]. "
            "Reason: This node has insufficient allocated processors",
            "start_time": "2024-05-02T11:50:34.766591Z",
            "max_assigned_allocations": 1,
            "adaptive_allocations": dict(adaptive) if adaptive is not None else None,
        }
    }


def node_entry(
    node_id: str, name: str, *, state: str = "started", allocations: int | None = 1, reason: str | None = None
) -> dict[str, Any]:
    """§3.2 ``nodes[]`` entry; non-started routes carry no live counters."""
    routing_state: dict[str, Any] = {"routing_state": state}
    if reason is not None:
        routing_state["reason"] = reason
    entry: dict[str, Any] = {
        "node": {
            node_id: {
                "name": name,
                "ephemeral_id": "Xf3kT3n5S0qS0o7YwBnQ2g",
                "transport_address": "10.0.0.7:9300",
                "external_id": name,
                "attributes": {"ml.allocated_processors": "4"},
                "roles": ["ml"],
                "version": "8.15.0",
                "min_index_version": 7000099,
                "max_index_version": 8512000,
            }
        },
        "routing_state": routing_state,
        "peak_throughput_per_minute": 0,
        "throughput_last_minute": 0,
    }
    if state == "started":
        entry.update(
            {
                "inference_count": 0,
                "inference_cache_hit_count": 0,
                "number_of_pending_requests": 0,
                "start_time": 1716000000000,
                "threads_per_allocation": 1,
                "inference_cache_hit_count_last_minute": 0,
            }
        )
        if allocations is not None:
            entry["number_of_allocations"] = allocations
    return entry


def stats_entry(
    model_id: str,
    deployment_id: str | None = None,
    *,
    nodes: list[dict[str, Any]] | None = None,
    allocations: int = 1,
    state: str = "started",
    adaptive: Mapping[str, Any] | None = None,
    deployed: bool = True,
) -> dict[str, Any]:
    """§3.2 ``trained_model_stats[]`` entry (``deployed=False``: no ``deployment_stats``)."""
    entry: dict[str, Any] = {
        "model_id": model_id,
        "model_size_stats": {"model_size_bytes": 1630, "required_native_memory_bytes": 251661404},
        "pipeline_count": 0,
        "inference_stats": {
            "failure_count": 0,
            "inference_count": 0,
            "cache_miss_count": 0,
            "missing_all_fields_count": 0,
            "timestamp": 1716000000000,
        },
    }
    if not deployed:
        return entry
    node_list = nodes if nodes is not None else [node_entry("uckeG3R8TLe2MMNBQ6AGrw", "es-ml-0")]
    current = sum(n.get("number_of_allocations", 0) for n in node_list)
    ds: dict[str, Any] = {
        "deployment_id": deployment_id or model_id,
        "model_id": model_id,
        "threads_per_allocation": 1,
        "number_of_allocations": allocations,
        "queue_capacity": 10000,
        "state": state,
        "allocation_status": {
            "allocation_count": current,
            "target_allocation_count": allocations,
            "state": "fully_allocated" if current >= allocations else ("started" if current else "starting"),
        },
        "cache_size": "1.5kb",
        "priority": "normal",
        "start_time": 1716000000000,
        "peak_throughput_per_minute": 0,
        "nodes": node_list,
    }
    if adaptive is not None:
        ds["adaptive_allocations"] = dict(adaptive)
    entry["deployment_stats"] = ds
    return entry
