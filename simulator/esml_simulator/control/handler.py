"""The ``/_sim/`` admin API over HTTP: the ``Control`` operations (``control.control``) as JSON endpoints."""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from esml_simulator.api.deployments import parse_adaptive
from esml_simulator.control.control import AdminError, Control
from esml_simulator.errors import EsError
from esml_simulator.ml.deploy_ops import ABSENT, AdaptiveUpdate


async def _json(request: web.Request) -> dict[str, Any]:
    raw = await request.read()
    if not raw:
        return {}
    try:
        body = json.loads(raw)
    except ValueError:
        raise AdminError(400, "request body is not valid JSON") from None
    if not isinstance(body, dict):
        raise AdminError(400, "request body must be a JSON object")
    return body


ENDPOINT_KEYS = (
    "deployment_id",
    "task_type",
    "model_id",
    "num_threads",
    "num_allocations",
    "adaptive_allocations",
)


def _kwargs(body: dict[str, Any], allowed: tuple[str, ...], required: int = 0) -> dict[str, Any]:
    """The body as keyword arguments: only ``allowed`` keys, the first ``required`` of them mandatory."""
    unknown = sorted(set(body) - set(allowed))
    if unknown:
        raise AdminError(400, f"unknown field(s) {unknown}; expected {list(allowed)}")
    missing = [k for k in allowed[:required] if k not in body]
    if missing:
        raise AdminError(400, f"missing field(s) {missing}")
    out = dict(body)
    if "id" in out:
        out["key_id"] = out.pop("id")
    return out


def _ok(payload: Any, status: int = 200) -> web.Response:
    return web.json_response(payload, status=status, headers={"X-Elastic-Product": "Elasticsearch"})


async def handle_admin(control: Control, request: web.Request) -> web.Response:
    parts = [p for p in request.path.split("/") if p][1:]
    method = request.method
    try:
        return await _dispatch(control, request, method, parts)
    except AdminError as exc:
        return _ok({"error": str(exc), "status": exc.status}, exc.status)
    except EsError as exc:
        return _ok(exc.body(), exc.status)


async def _dispatch(control: Control, request: web.Request, method: str, parts: list[str]) -> web.Response:
    body = await _json(request) if method in ("POST", "PUT") else {}
    match (method, parts):
        case ("POST", ["reset"]):
            control.reset()
            return _ok({"acknowledged": True})
        case ("GET", ["requests"]):
            q = request.query
            return _ok({"requests": control.requests(q.get("path_prefix"), q.get("method"))})
        case ("DELETE", ["requests"]):
            control.clear_requests()
            return _ok({"acknowledged": True})
        case ("GET", ["faults"]):
            return _ok({"faults": control.faults()})
        case ("POST", ["faults"]):
            fault = control.add_fault(**body)
            return _ok({"fault": fault.describe()})
        case ("DELETE", ["faults"]):
            control.clear_faults()
            return _ok({"acknowledged": True})
        case ("DELETE", ["faults", fault_id]):
            control.clear_faults(int(fault_id))
            return _ok({"acknowledged": True})
        case ("GET", ["nodes"]):
            return _ok({"nodes": [n.dump() for n in control.engine.cluster.nodes]})
        case ("POST", ["nodes"]):
            return _ok({"node": control.add_node(body.get("processors"), body.get("memory"), body.get("name"))})
        case ("POST", ["nodes", name, "_fail"]):
            return _ok({"node": control.fail_node(name, str(body.get("mode", "leave")))})
        case ("POST", ["nodes", name, "_shutdown"]):
            return _ok({"node": control.shutdown_node(name)})
        case ("POST", ["nodes", name, "_restore"]):
            return _ok({"node": control.restore_node(name)})
        case ("POST", ["deployments", dep_id, "_set_allocations"]):
            number = body.get("number_of_allocations")
            adaptive: AdaptiveUpdate = (
                parse_adaptive(body["adaptive_allocations"]) if "adaptive_allocations" in body else ABSENT
            )
            return _ok(control.set_allocations(dep_id, None if number is None else int(number), adaptive))
        case ("POST", ["deployments", dep_id, "_load"]):
            control.set_load(
                dep_id, float(body.get("requests_per_second", 0.0)), float(body.get("inference_time_ms", 100.0))
            )
            return _ok({"acknowledged": True})
        case ("PUT" | "POST", ["deployments", dep_id, "_inference_stats"]):
            nodes = body.pop("nodes", None)
            if nodes is not None and not isinstance(nodes, dict):
                raise AdminError(400, "nodes must be an object: node name or id -> values")
            return _ok({"inference_stats": control.set_inference_stats(dep_id, nodes, **body)})
        case ("DELETE", ["deployments", dep_id, "_inference_stats"]):
            control.clear_inference_stats(dep_id)
            return _ok({"acknowledged": True})
        case ("POST", ["_advance"]):
            return _ok({"now": control.advance(float(body.get("seconds", 0.0)))})
        case ("POST", ["_tick"]):
            control.tick()
            return _ok({"acknowledged": True})
        case ("GET", ["state"]):
            return _ok(control.state())
        case ("POST", ["state", "_save"]):
            control.save_state()
            return _ok({"acknowledged": True})
        case ("POST", ["models"]):
            if "model_id" not in body:
                raise AdminError(400, "model_id is required")
            return _ok(
                {
                    "model": control.add_model(
                        str(body["model_id"]),
                        body.get("size_bytes"),
                        bool(body.get("vocabulary", True)),
                        body.get("task_type"),
                    )
                }
            )
        case ("PUT", ["pipelines", pipeline_id]):
            control.put_pipeline(pipeline_id, body)
            return _ok({"acknowledged": True})
        case ("PUT" | "POST", ["cluster"]):
            return _ok({"cluster": control.set_cluster(**body)})
        case ("GET", ["inference_endpoints"]):
            return _ok({"inference_endpoints": control.inference_endpoints()})
        case ("PUT", ["inference_endpoints", endpoint_id]):
            return _ok({"endpoint": control.add_inference_endpoint(endpoint_id, **_kwargs(body, ENDPOINT_KEYS))})
        case ("DELETE", ["inference_endpoints", endpoint_id]):
            control.remove_inference_endpoint(endpoint_id)
            return _ok({"acknowledged": True})
        case ("POST", ["users"]):
            return _ok({"user": control.add_user(**_kwargs(body, ("username", "password", "role"), required=2))})
        case ("POST", ["api_keys"]):
            return _ok({"api_key": control.add_api_key(**_kwargs(body, ("id", "key", "role"), required=2))})
    raise AdminError(404, f"no simulator admin endpoint [{method} {request.path}]")
