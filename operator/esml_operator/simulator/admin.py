"""Test control: the Python :class:`Control` API and the same operations over HTTP under ``/_sim/``."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from aiohttp import web

from . import render
from .api_deployments import parse_adaptive, validate_update
from .clock import FakeClock
from .deploy_ops import ABSENT, AdaptiveUpdate
from .errors import EsError
from .faults import Fault, make_fault
from .state import Node

if TYPE_CHECKING:
    from .engine import Engine


class AdminError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class Control:
    """Everything a test needs that real Elasticsearch does not offer."""

    def __init__(self, engine: Engine, save: Callable[[], None] | None = None) -> None:
        self.engine = engine
        self._save = save

    # -- lifecycle -----------------------------------------------------------------------
    def reset(self) -> None:
        self.engine.faults.release_all()
        self.engine.reset()

    def save_state(self) -> None:
        if self._save is None:
            raise AdminError(400, "the simulator was started without --state-file")
        self._save()

    # -- request log ---------------------------------------------------------------------
    def requests(self, path_prefix: str | None = None, method: str | None = None) -> list[dict[str, Any]]:
        return [
            r
            for r in self.engine.requests
            if (path_prefix is None or r["path"].startswith(path_prefix))
            and (method is None or r["method"] == method.upper())
        ]

    def clear_requests(self) -> None:
        self.engine.requests.clear()

    # -- faults --------------------------------------------------------------------------
    def add_fault(self, endpoint: str = "any", kind: str = "status", **options: Any) -> Fault:
        try:
            return self.engine.faults.add(make_fault({"endpoint": endpoint, "kind": kind, **options}))
        except (TypeError, ValueError) as exc:
            raise AdminError(400, str(exc)) from None

    def clear_faults(self, fault_id: int | None = None) -> None:
        self.engine.faults.clear(fault_id)

    def faults(self) -> list[dict[str, Any]]:
        return [f.describe() for f in self.engine.faults.active]

    # -- nodes ---------------------------------------------------------------------------
    def _node(self, name_or_id: str) -> Node:
        node = self.engine.cluster.find_node(name_or_id)
        if node is None:
            raise AdminError(404, f"no node named or with id [{name_or_id}]")
        return node

    def fail_node(self, name_or_id: str, mode: str = "leave") -> dict[str, Any]:
        node = self._node(name_or_id)
        try:
            self.engine.cluster.fail_node(node, mode)
        except ValueError as exc:
            raise AdminError(400, str(exc)) from None
        return node.dump()

    def restore_node(self, name_or_id: str) -> dict[str, Any]:
        node = self._node(name_or_id)
        self.engine.cluster.restore_node(node)
        return node.dump()

    def add_node(
        self, processors: int | None = None, memory: int | None = None, name: str | None = None
    ) -> dict[str, Any]:
        c = self.engine.config
        node = self.engine.cluster.add_node(processors or c.processors, memory or c.node_memory, name)
        return node.dump()

    # -- deployments ---------------------------------------------------------------------
    def set_allocations(
        self,
        deployment_id: str,
        number_of_allocations: int | None = None,
        adaptive_allocations: AdaptiveUpdate = ABSENT,
    ) -> dict[str, Any]:
        """An out-of-band update (as a Kibana user would make): same semantics and errors as ``_update``."""
        validate_update(number_of_allocations, adaptive_allocations)
        return self.engine.update(deployment_id, number_of_allocations, adaptive_allocations)

    def set_load(self, deployment_id: str, requests_per_second: float, inference_time_ms: float = 100.0) -> None:
        dep = self.engine.cluster.deployments.get(deployment_id)
        if dep is None:
            raise AdminError(404, f"no deployment [{deployment_id}]")
        self.engine.cluster.set_load(dep, requests_per_second, inference_time_ms)

    def advance(self, seconds: float) -> float:
        clock = self.engine.clock
        if not isinstance(clock, FakeClock):
            raise AdminError(400, "the clock can only be advanced when running with a fake clock (--fake-clock)")
        clock.advance(seconds)
        self.engine.cluster.advance()
        return clock.now()

    def tick(self) -> None:
        self.engine.cluster.advance()

    # -- cluster -------------------------------------------------------------------------
    def add_model(self, model_id: str, size_bytes: int | None = None, vocabulary: bool = True) -> dict[str, Any]:
        model = self.engine.add_model(model_id, size_bytes, vocabulary=vocabulary)
        return model.render(str(self.engine.version), {"definition_status"})

    def put_pipeline(self, pipeline_id: str, body: dict[str, Any]) -> None:
        self.engine.cluster.pipelines[pipeline_id] = body

    def set_cluster(self, **flags: Any) -> dict[str, Any]:
        cluster = self.engine.cluster
        for key, value in flags.items():
            if key == "license":
                cluster.license = str(value)
            elif key == "upgrade_in_progress":
                cluster.upgrade_in_progress = bool(value)
            elif key == "feature_reset_in_progress":
                cluster.feature_reset_in_progress = bool(value)
            elif key == "can_scale":
                cluster.settings.can_scale = bool(value)
                cluster.rebalance()
            elif key == "allocation_delay":
                cluster.settings.allocation_delay = float(value)
            else:
                raise AdminError(400, f"unknown cluster setting [{key}]")
        return self._cluster_flags()

    def _cluster_flags(self) -> dict[str, Any]:
        c = self.engine.cluster
        return {
            "license": c.license,
            "upgrade_in_progress": c.upgrade_in_progress,
            "feature_reset_in_progress": c.feature_reset_in_progress,
            "can_scale": c.settings.can_scale,
            "allocation_delay": c.settings.allocation_delay,
        }

    def add_inference_endpoint(self, endpoint_id: str, deployment_id: str, created_deployment: bool = True) -> None:
        self.engine.cluster.inference_endpoints[endpoint_id] = {
            "deployment_id": deployment_id,
            "created_deployment": created_deployment,
        }

    def remove_inference_endpoint(self, endpoint_id: str) -> None:
        self.engine.cluster.inference_endpoints.pop(endpoint_id, None)

    def state(self) -> dict[str, Any]:
        engine = self.engine
        cluster = engine.cluster
        cluster.advance()
        deployments = {}
        for dep_id, dep in sorted(cluster.deployments.items()):
            deployments[dep_id] = {
                **render.assignment(dep, engine.version),
                "stats_state": dep.stats_state(),
                "allocation_status": {
                    "allocation_count": dep.allocation_count,
                    "target_allocation_count": dep.number_of_allocations,
                    "state": dep.allocation_state(),
                },
                "load": {
                    "requests_per_second": dep.load.requests_per_second,
                    "inference_time_ms": dep.load.inference_time_ms,
                },
            }
        return {
            "now": engine.clock.now(),
            "fake_clock": isinstance(engine.clock, FakeClock),
            "es_version": str(engine.version),
            "security": engine.security.enabled,
            "cluster": self._cluster_flags(),
            "nodes": [n.dump() for n in cluster.nodes],
            "models": sorted(cluster.models.models),
            "deployments": deployments,
            "pipelines": sorted(cluster.pipelines),
            "inference_endpoints": cluster.inference_endpoints,
            "faults": self.faults(),
            "request_count": len(engine.requests),
            "next_event_time": cluster.next_event_time(),
        }


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
                        str(body["model_id"]), body.get("size_bytes"), bool(body.get("vocabulary", True))
                    )
                }
            )
        case ("PUT", ["pipelines", pipeline_id]):
            control.put_pipeline(pipeline_id, body)
            return _ok({"acknowledged": True})
        case ("PUT" | "POST", ["cluster"]):
            return _ok({"cluster": control.set_cluster(**body)})
        case ("PUT", ["inference_endpoints", endpoint_id]):
            control.add_inference_endpoint(
                endpoint_id, str(body["deployment_id"]), bool(body.get("created_deployment", True))
            )
            return _ok({"acknowledged": True})
        case ("DELETE", ["inference_endpoints", endpoint_id]):
            control.remove_inference_endpoint(endpoint_id)
            return _ok({"acknowledged": True})
    raise AdminError(404, f"no simulator admin endpoint [{method} {request.path}]")
