"""In-memory Kubernetes (typed by the KubeApi protocol) and a small stateful Elasticsearch for runtime tests."""

from __future__ import annotations

import asyncio
import functools
import json
from collections.abc import Mapping
from typing import Any

import httpx

from esml_operator.controller.fence import Fence
from esml_operator.elasticsearch.connections import ConnectionPool
from esml_operator.kube.api import KubeApi, SecretData
from esml_operator.manager.operator import Operator, build
from esml_operator.settings import Settings
from harness.polling import wait_for_async

MODEL = "my-model"
START_TIME, START_TIME_MS = "2026-11-25T10:00:00Z", 1_795_600_800_000  # one moment: _start/_update, _stats
HEADERS = {"X-Elastic-Product": "Elasticsearch", "content-type": "application/json"}


class FakeKube:
    """Records every write; keeps the objects' status and finalizers."""

    def __init__(self) -> None:
        self.patches: list[tuple[str, Mapping[str, Any]]] = []
        self.finalizer_writes: list[tuple[str, list[str]]] = []
        self.events: list[tuple[str, str, str]] = []

    async def read_secret(self, namespace: str, name: str, *, fresh: bool = False) -> SecretData | None:
        return None

    def forget_secret(self, namespace: str, name: str) -> None:
        pass

    async def read_service_port(self, namespace: str, name: str) -> int | None:
        return None

    async def patch_status(self, namespace: str, name: str, status: Mapping[str, Any]) -> None:
        self.patches.append((name, status))

    async def set_finalizers(self, namespace: str, name: str, *, resource_version: str, finalizers: list[str]) -> None:
        self.finalizer_writes.append((name, finalizers))

    async def post_event(self, body: Mapping[str, Any], *, type: str, reason: str, message: str) -> None:
        self.events.append((str(body["metadata"]["name"]), reason, message))

    async def aclose(self) -> None:
        pass


_kube_check: type[KubeApi] = FakeKube  # FakeKube satisfies the protocol (checked by mypy)


class FakeES:
    """GET /, paged _stats, GET _inference/_all, _start, _update, _stop; ``hang`` makes every request wait
    until released, ``polls_open`` only the ``_stats`` polls."""

    def __init__(self, uuid: str = "cluster-a", *, update_delay: float = 0.0) -> None:
        self.uuid = uuid
        self.deployments: dict[str, dict[str, Any]] = {}
        self.endpoints: list[dict[str, Any]] = []  # GET _inference/_all entries
        self.calls: list[str] = []
        self.update_delay = update_delay
        self.hang = asyncio.Event()
        self.hang.set()
        self.polls_open = asyncio.Event()  # cleared: every _stats waits until it is set again
        self.polls_open.set()
        self.refuse = False
        self.lagging_answers = False  # _start/_update answers show 1 current allocation, as right after a change
        self.version = "9.2.0"
        self.node = {"name": "ml-0", "ephemeral_id": "boot-1", "version": "9.2.0"}  # the one ML node, n1

    def transport(self) -> httpx.AsyncBaseTransport:
        return httpx.MockTransport(self.handle)

    async def handle(self, request: httpx.Request) -> httpx.Response:
        path, method = request.url.path, request.method
        self.calls.append(f"{method} {path}")
        if self.refuse:
            raise httpx.ConnectError("connection refused", request=request)
        await self.hang.wait()
        if path == "/":
            return self._json({"cluster_name": "c", "cluster_uuid": self.uuid, "version": {"number": self.version}})
        if path.endswith("/_stats"):
            await self.polls_open.wait()
            return self._json(self._stats())
        if path == "/_inference/_all":
            return self._json({"endpoints": self.endpoints})
        dep = path.split("/")[3]
        if path.endswith("/deployment/_start"):
            dep = request.url.params.get("deployment_id", dep)
            number = int(request.url.params.get("number_of_allocations", "1"))
            if dep in self.deployments:
                return self._json({"error": {"type": "status_exception", "reason": "already exists"}}, 400)
            self.deployments[dep] = {"number_of_allocations": number}
            return self._json(self._assignment(dep))
        if path.endswith("/deployment/_update"):
            if self.update_delay:
                await asyncio.sleep(self.update_delay)
            self.deployments[dep]["number_of_allocations"] = json.loads(request.content)["number_of_allocations"]
            return self._json(self._assignment(dep))
        if path.endswith("/deployment/_stop"):
            self.deployments.pop(dep, None)
            return self._json({"stopped": True})
        return self._json({"error": "unknown"}, 400)

    def count(self, what: str) -> int:
        return sum(1 for call in self.calls if what in call)

    def _json(self, body: Any, status: int = 200) -> httpx.Response:
        return httpx.Response(status, json=body, headers=HEADERS)

    def _assignment(self, dep: str) -> dict[str, Any]:
        number = self.deployments[dep]["number_of_allocations"]
        current = 1 if self.lagging_answers else number
        return {
            "assignment": {
                "task_parameters": {
                    "model_id": MODEL,
                    "deployment_id": dep,
                    "number_of_allocations": number,
                    "threads_per_allocation": 1,
                    "queue_capacity": 1024,
                    "priority": "normal",
                    "cache_size": "10b",
                },
                "routing_table": {
                    "n1": {
                        "current_allocations": current,
                        "target_allocations": number,
                        "routing_state": "started",
                        "reason": "",
                    }
                },
                "assignment_state": "started",
                "start_time": START_TIME,
            }
        }

    def _stats(self) -> dict[str, Any]:
        items: list[dict[str, Any]] = [{"model_id": MODEL}]
        for dep, d in self.deployments.items():
            n = d["number_of_allocations"]
            items.append(
                {
                    "model_id": MODEL,
                    "deployment_stats": {
                        "deployment_id": dep,
                        "model_id": MODEL,
                        "state": "started",
                        "threads_per_allocation": 1,
                        "number_of_allocations": n,
                        "queue_capacity": 1024,
                        "cache_size": "10b",
                        "priority": "normal",
                        "start_time": START_TIME_MS,
                        "allocation_status": {
                            "allocation_count": n,
                            "target_allocation_count": n,
                            "state": "fully_allocated",
                        },
                        "nodes": [
                            {
                                "node": {"n1": dict(self.node)},
                                "routing_state": {"routing_state": "started"},
                                "number_of_allocations": n,
                            }
                        ],
                    },
                }
            )
        return {"count": len(items), "trained_model_stats": items}


def resource(name: str, url: str, *, generation: int = 1, **spec: Any) -> dict[str, Any]:
    return {
        "metadata": {
            "name": name,
            "namespace": "ns",
            "uid": f"uid-{name}",
            "generation": generation,
            "resourceVersion": str(generation),
            "creationTimestamp": "2026-11-25T10:00:00Z",
        },
        "spec": {"modelId": MODEL, "deploymentId": name, "elasticsearch": {"url": url}, **spec},
    }


def deleting(body: dict[str, Any]) -> dict[str, Any]:
    """``body`` being deleted while it holds the ``esml.io/stop-deployment`` finalizer."""
    meta = {**body["metadata"], "finalizers": ["esml.io/stop-deployment"], "deletionTimestamp": "2026-11-25T11:00:00Z"}
    return {**body, "metadata": meta}


def bump(body: dict[str, Any], **spec: Any) -> dict[str, Any]:
    """``body`` at its next generation (and resourceVersion) with ``spec`` changed."""
    meta = dict(body["metadata"])
    meta["generation"] += 1
    meta["resourceVersion"] = str(int(meta["resourceVersion"]) + 1)
    return {**body, "metadata": meta, "spec": {**body["spec"], **spec}}


def operator_for(
    clusters: Mapping[str, FakeES], kube: FakeKube, *, leading: bool = True, fence: Fence | None = None, **settings: Any
) -> Operator:
    """The real runtime objects; each cluster's URL routes to its fake. ``fence`` (else one that leads or not, as
    ``leading`` says, with no deadline) gates every write."""
    values: dict[str, Any] = {
        "all_namespaces": True,
        "resync_interval": 30.0,
        "min_poll_interval": 0.05,
        "leader_election": False,
        "request_timeout": 2.0,
        "connect_timeout": 1.0,
    }
    values.update(settings)
    pool = ConnectionPool(transport_factory=lambda config: clusters[config.endpoint].transport())
    return build(Settings(**values), kube, pool, fence=fence or Fence(lambda: None if leading else 0.0))


# Checks here are in-process and cheap: poll every 5 ms, and give up after 5 s.
until = functools.partial(wait_for_async, within=5.0, interval=0.005)
