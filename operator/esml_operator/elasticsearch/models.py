"""Typed views of what Elasticsearch reports about trained-model deployments.

The client parses JSON into these immutable values; the pure decision logic
consumes them. Field names follow Elasticsearch's, in snake case. Optional
fields are ``None`` when Elasticsearch omitted them (see the fact sheet
``docs/reference/elasticsearch/ml-deployments.md``, "What a deployment looks like").

This module imports no HTTP library.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Final, Literal

from esml_operator.elasticsearch.load import InferenceLoad


class Unset(enum.Enum):
    """Sentinel type: "leave this field out of the request" (distinct from ``None``/JSON ``null``)."""

    UNSET = "UNSET"

    def __repr__(self) -> str:
        return "UNSET"


#: Pass as ``adaptive_allocations`` to ``update_deployment`` to not send the field at all.
UNSET: Final = Unset.UNSET
UnsetType = Literal[Unset.UNSET]


@dataclass(frozen=True, order=True)
class EsVersion:
    major: int
    minor: int
    patch: int = 0

    @classmethod
    def parse(cls, text: str) -> EsVersion:
        """Parse ``8.15.0``, ``9.1.2-SNAPSHOT`` and the like."""
        core = text.split("-", 1)[0]
        parts = [int(p) for p in core.split(".")[:3]]
        while len(parts) < 3:
            parts.append(0)
        return cls(parts[0], parts[1], parts[2])

    def __str__(self) -> str:
        return f"{self.major}.{self.minor}.{self.patch}"

    def at_least(self, major: int, minor: int, patch: int = 0) -> bool:
        return (self.major, self.minor, self.patch) >= (major, minor, patch)


@dataclass(frozen=True)
class ClusterInfo:
    """``GET /``."""

    version: EsVersion
    cluster_name: str = ""
    cluster_uuid: str = ""
    build_flavor: str = "default"


@dataclass(frozen=True)
class AdaptiveAllocations:
    enabled: bool
    min_number_of_allocations: int | None = None
    max_number_of_allocations: int | None = None


@dataclass(frozen=True)
class AllocationStatus:
    """``deployment_stats.allocation_status`` (stats only)."""

    allocation_count: int
    target_allocation_count: int
    state: str  # starting | started | fully_allocated


@dataclass(frozen=True)
class NodeRoute:
    """One node's share of a deployment.

    From ``_stats`` ``nodes[]``: ``current_allocations`` is the node's
    ``number_of_allocations`` (absent for routes that are not started) and
    ``target_allocations`` is unknown (``None``). From a start/update
    ``assignment.routing_table``: both counts are known, ``node_name`` is not.
    """

    node_id: str
    routing_state: str  # starting | started | stopping | stopped | failed
    reason: str | None = None
    node_name: str | None = None
    current_allocations: int | None = None
    target_allocations: int | None = None


@dataclass(frozen=True)
class DeploymentStats:
    """One ``trained_model_stats[]`` entry that has ``deployment_stats``."""

    deployment_id: str
    model_id: str
    state: str | None = None  # starting | started | stopping | failed (failed only here)
    reason: str | None = None
    allocation_status: AllocationStatus | None = None
    number_of_allocations: int | None = None
    threads_per_allocation: int | None = None
    queue_capacity: int | None = None
    cache_size: str | None = None
    priority: str = "normal"
    start_time_ms: int | None = None
    adaptive_allocations: AdaptiveAllocations | None = None
    nodes: tuple[NodeRoute, ...] = ()
    load: InferenceLoad = field(default_factory=InferenceLoad)  # pending requests, counts, times (metrics only)


@dataclass(frozen=True)
class TaskParameters:
    model_id: str
    deployment_id: str
    number_of_allocations: int
    threads_per_allocation: int
    queue_capacity: int
    priority: str = "normal"
    cache_size: str | None = None
    model_bytes: int | None = None


@dataclass(frozen=True)
class Assignment:
    """The ``assignment`` object returned by ``_start`` and ``_update``."""

    task_parameters: TaskParameters
    assignment_state: str  # starting | started | stopping
    routing_table: tuple[NodeRoute, ...] = ()
    reason: str | None = None
    start_time: str | None = None
    max_assigned_allocations: int | None = None
    adaptive_allocations: AdaptiveAllocations | None = None


#: Inference services whose endpoints run on the cluster's own ML nodes (``elser`` is the deprecated alias).
ML_NODE_SERVICES: Final = ("elasticsearch", "elser")


@dataclass(frozen=True)
class InferenceServiceSettings:
    """``service_settings`` of an ``elasticsearch``/``elser`` endpoint (other services: all ``None``).

    ``num_allocations`` as ``GET _inference`` reports it is the deployment's
    current ``number_of_allocations`` (8.16+), not the stored value.
    """

    model_id: str | None = None
    deployment_id: str | None = None  # set: attached to a deployment started with _start
    num_allocations: int | None = None
    num_threads: int | None = None
    adaptive_allocations: AdaptiveAllocations | None = None


@dataclass(frozen=True)
class InferenceEndpoint:
    """One ``_inference`` endpoint (``GET _inference/_all`` entry, or the ``_update`` answer)."""

    inference_id: str
    task_type: str
    service: str
    service_settings: InferenceServiceSettings = InferenceServiceSettings()

    @property
    def runs_on_ml_nodes(self) -> bool:
        return self.service in ML_NODE_SERVICES

    @property
    def ml_deployment_id(self) -> str | None:
        """The trained-model deployment the endpoint uses (``None`` for services outside the cluster)."""
        if not self.runs_on_ml_nodes:
            return None
        return self.service_settings.deployment_id or self.inference_id

    def owns(self, deployment_id: str) -> bool:
        """Whether the endpoint created ``deployment_id``: Elasticsearch infers it from the ids
        (an ML-node endpoint whose inference id is the deployment id and that names no other deployment)."""
        return self.runs_on_ml_nodes and self.inference_id == deployment_id == self.ml_deployment_id


@dataclass(frozen=True)
class InferenceEndpoints:
    """What one ``GET _inference/_all`` listed; ``problem`` says why the list is unknown (then it is empty)."""

    endpoints: tuple[InferenceEndpoint, ...] = ()
    problem: str | None = None

    @property
    def known(self) -> bool:
        return self.problem is None

    def owner_of(self, deployment_id: str) -> InferenceEndpoint | None:
        return next((e for e in self.endpoints if e.owns(deployment_id)), None)

    def attached_to(self, deployment_id: str) -> tuple[InferenceEndpoint, ...]:
        """Endpoints that use ``deployment_id`` through ``service_settings.deployment_id`` (not its owner)."""
        return tuple(e for e in self.endpoints if e.ml_deployment_id == deployment_id and not e.owns(deployment_id))


@dataclass(frozen=True)
class ClusterSnapshot:
    """Everything one poll saw: ``GET _ml/trained_models/_all/_stats`` (all pages), plus
    ``GET _inference/_all`` where the cluster has inference endpoints.

    ``model_ids`` holds every model the cluster knows (deployed or not);
    ``deployments`` is keyed by deployment id. ``inference`` is ``None`` when
    the endpoints were not listed (a cluster before 8.11).
    """

    model_ids: frozenset[str] = frozenset()
    deployments: dict[str, DeploymentStats] = field(default_factory=dict)
    inference: InferenceEndpoints | None = None
    #: Native memory each model needs on a node that hosts it (``required_native_memory_bytes``), when reported.
    model_memory: dict[str, int] = field(default_factory=dict)
    #: (node id, ephemeral id, version) of every ML node a deployment is routed to (``parsing.parse_members``).
    members: frozenset[tuple[str, str, str]] = frozenset()
