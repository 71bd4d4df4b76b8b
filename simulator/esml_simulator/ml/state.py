"""The simulated ML tier's data: nodes, routes, deployments (trained model assignments)."""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass, field
from typing import Any

from esml_simulator.ml.injected import InjectedStats
from esml_simulator.units import ByteSize

NATIVE_CODE_OVERHEAD = 30 * 1024 * 1024
MAX_DEPLOYMENTS = 100
MAX_LOW_PRIORITY_PER_NODE = 100
#: The route reason while a node shuts down (Elasticsearch's ``TrainedModelAssignmentUtils``).
NODE_IS_SHUTTING_DOWN = "node is shutting down"


def node_id_for(index: int, seed: str = "esml-simulator") -> str:
    """A stable 22-character, URL-safe base64 id (Elasticsearch node ids have this shape)."""
    digest = hashlib.sha256(f"{seed}/ml-{index}".encode()).digest()[:16]
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


@dataclass
class Node:
    index: int
    id: str
    name: str
    processors: int
    memory: int
    #: ``up``; ``left`` (not in the cluster); ``failing`` (in the cluster, model processes fail);
    #: ``shutting_down`` (in the cluster, its routes stop and it takes no new allocations)
    status: str = "up"

    @property
    def in_cluster(self) -> bool:
        return self.status != "left"

    @property
    def ephemeral_id(self) -> str:
        return node_id_for(self.index, "ephemeral")

    def dump(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "id": self.id,
            "name": self.name,
            "processors": self.processors,
            "memory": self.memory,
            "status": self.status,
        }


@dataclass
class Route:
    node_id: str
    current: int
    target: int
    state: str  # starting | started | stopping | failed
    reason: str = ""
    #: When the node finishes its pending work (load the model, or move current to target).
    ready_at: float | None = None
    started_at: float | None = None

    @property
    def routable(self) -> bool:
        return self.state == "started" and self.current > 0


@dataclass
class AdaptiveSettings:
    enabled: bool | None = None
    min: int | None = None
    max: int | None = None

    def render(self) -> dict[str, Any]:
        out: dict[str, Any] = {"enabled": bool(self.enabled)}
        if self.min is not None:
            out["min_number_of_allocations"] = self.min
        if self.max is not None:
            out["max_number_of_allocations"] = self.max
        return out

    def validation_errors(self) -> list[str]:
        errors = []
        if self.min is not None and self.min < 0:
            errors.append("[min_number_of_allocations] must be a non-negative integer or null")
        if self.max is not None and self.max < 1:
            errors.append("[max_number_of_allocations] must be a positive integer or null")
        if self.min is not None and self.max is not None and self.min > self.max:
            errors.append("[min_number_of_allocations] must not be larger than [max_number_of_allocations]")
        return errors


@dataclass
class Load:
    """Simulated inference traffic for one deployment (drives adaptive allocations and the node queues)."""

    requests_per_second: float = 0.0
    inference_time_ms: float = 100.0
    since: float = 0.0
    accumulated: float = 0.0
    last_request_at: float | None = None
    last_scale_up_at: float | None = None
    #: node id -> requests waiting in that node's queue (see ``queueing``)
    queues: dict[str, float] = field(default_factory=dict)
    #: node id -> requests refused because that node's queue was full
    rejected: dict[str, float] = field(default_factory=dict)
    #: node id -> the most requests per minute the node completed
    peak_per_minute: dict[str, int] = field(default_factory=dict)
    #: ``_infer`` inputs answered from the deployment's cache, and the inputs it holds (see ``ml_infer``)
    cache_hits: float = 0.0
    cached: list[str] = field(default_factory=list)
    #: discrete calls per node: when each allocation is next free, and [start, finish] of recent calls
    #: (see ``calls``)
    slots: dict[str, list[float]] = field(default_factory=dict)
    calls: dict[str, list[list[float]]] = field(default_factory=dict)

    @property
    def demand(self) -> float:
        """Allocations needed: requests per second x seconds per request."""
        return self.requests_per_second * self.inference_time_ms / 1000.0


@dataclass
class Deployment:
    deployment_id: str
    model_id: str
    model_bytes: int
    threads: int
    number_of_allocations: int
    queue_capacity: int
    cache_size: ByteSize
    priority: str
    memory: int
    per_deployment_memory_bytes: int
    per_allocation_memory_bytes: int
    start_time: float
    state: str = "starting"  # starting | started | stopping (stored states)
    reason: str | None = None
    routes: dict[str, Route] = field(default_factory=dict)
    max_assigned: int = 0
    adaptive: AdaptiveSettings | None = None
    load: Load = field(default_factory=Load)
    stop_at: float | None = None
    #: load a test injected (``/_sim/deployments/{id}/_inference_stats``), shown in ``_stats``
    injected: InjectedStats | None = None

    @property
    def total_target(self) -> int:
        """Allocations planned on routes that are not stopping (a node shutting down gives its routes up)."""
        return sum(r.target for r in self.routes.values() if r.state != "stopping")

    @property
    def total_current(self) -> int:
        return sum(r.current for r in self.routes.values())

    @property
    def allocation_count(self) -> int:
        return sum(r.current for r in self.routes.values() if r.routable)

    @property
    def adaptive_enabled(self) -> bool:
        return self.adaptive is not None and bool(self.adaptive.enabled)

    def allocation_state(self) -> str:
        count, target = self.allocation_count, self.number_of_allocations
        if count == 0 and target > 0:
            return "starting"
        if count < target:
            return "started"
        return "fully_allocated"

    def recompute_state(self) -> None:
        if self.state == "stopping":
            return
        self.max_assigned = max(self.max_assigned, self.total_current)
        if not self.routes and self.number_of_allocations == 0 and self.state == "started":
            return  # adaptive scale-to-zero keeps the stored state (UNCONFIRMED by the reference)
        self.state = "started" if any(r.state == "started" for r in self.routes.values()) else "starting"

    def stats_state(self) -> str:
        if self.routes and all(r.state == "failed" for r in self.routes.values()):
            return "failed"
        return self.state
