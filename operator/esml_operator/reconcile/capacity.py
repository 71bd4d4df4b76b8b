"""Capacity truth: why a deployment is short of its allocations, in Elasticsearch's own numbers.

How Elasticsearch places allocations (its trained-model assignment planner, in our words):

* An ML node offers its allocated processors (node attribute ``ml.allocated_processors``) and the native
  memory ML may use on it (``ml.max`` less what anomaly detection, analytics, native code and other models
  already take).
* One allocation runs ``threads_per_allocation`` threads, each on a processor of the SAME node: an allocation
  never spans nodes. So a node with ``f`` free processors takes at most ``f // threads`` more allocations,
  and a node smaller than ``threads`` never takes one.
* A deployment's memory is counted on every node that hosts at least one of its allocations (the model is
  loaded once per node; newer models add a per-allocation amount). A node without that memory free takes none.
* Allocations already running are kept where they are before new ones are planned, so other deployments'
  processors are not available; a ``low`` priority deployment reserves no processors. What the planner keeps
  is each deployment's target, so allocations still on their way (a scale-up in progress) hold theirs too.
* Nodes that are shutting down take no new allocations.
* When the plan cannot give a ``_start`` or ``_update`` every allocation it asks for, Elasticsearch refuses it
  (429) unless the cluster can grow (ML autoscaling or lazy ML nodes): then the start waits for a node.

:func:`assess` applies these rules to what ``_stats``, ``_ml/info`` and ``_ml/memory/_stats`` report and
returns the numbers, the limiting factor and a message a person can act on. Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any, Final

from esml_operator.elasticsearch.ml_capacity import MlLimits, MlNodeMemory
from esml_operator.elasticsearch.models import ClusterSnapshot, DeploymentStats

PROCESSORS: Final = "processors"
MEMORY: Final = "memory"
NODE_SIZE: Final = "nodeSize"
WAITING_FOR_SCALE_UP: Final = "waitingForScaleUp"
NODE_SHUTTING_DOWN: Final = "nodeShuttingDown"

INSUFFICIENT_CAPACITY: Final = "InsufficientCapacity"
WAITING_FOR_CAPACITY: Final = "WaitingForCapacity"


@dataclass(frozen=True)
class MlNode:
    """One ML node as the calculation sees it."""

    node_id: str
    processors: int
    free_memory_bytes: int | None = None  # None: unknown (no _ml/memory/_stats)
    shutting_down: bool = False


@dataclass(frozen=True)
class Demand:
    """What the deployment asks for."""

    deployment_id: str
    allocations: int
    threads: int
    memory_bytes: int | None = None  # the model's memory on one node; None: unknown
    scalable: bool = False  # Elasticsearch may add ML nodes (it waits instead of refusing)
    hosted_on: frozenset[str] = frozenset()  # nodes that already run it: its memory is counted there already


@dataclass(frozen=True)
class Capacity:
    allocations: int
    threads: int
    required_processors: int
    available_processors: int
    used_by_others: int
    free_processors: int
    shortfall_processors: int
    largest_free_on_node: int
    fitting_allocations: int
    memory_required_bytes: int | None
    largest_free_memory_bytes: int | None
    shortfall_memory_bytes: int
    limiting: str | None  # None: it fits

    @property
    def short(self) -> bool:
        return self.limiting is not None


def _fits_on(node: MlNode, free: int, demand: Demand) -> int:
    """Allocations of ``demand`` one node can take: whole allocations only, and only with the model's memory."""
    if node.shutting_down:
        return 0
    known = demand.memory_bytes is not None and node.free_memory_bytes is not None
    known = known and node.node_id not in demand.hosted_on
    if known and (node.free_memory_bytes or 0) < (demand.memory_bytes or 0):
        return 0
    return max(free, 0) // demand.threads


def _limiting(demand: Demand, nodes: tuple[MlNode, ...], free: Mapping[str, int], fitting: int) -> str | None:
    if fitting >= demand.allocations:
        return None
    live = [node for node in nodes if not node.shutting_down]
    if (
        len(live) < len(nodes)
        and sum(_fits_on(replace(n, shutting_down=False), free[n.node_id], demand) for n in nodes) >= demand.allocations
    ):
        return NODE_SHUTTING_DOWN  # it would fit but for the nodes that are shutting down
    if demand.scalable:
        return WAITING_FOR_SCALE_UP
    if live and max(node.processors for node in live) < demand.threads:
        return NODE_SIZE
    with_room = [node for node in live if free[node.node_id] >= demand.threads]
    if with_room and all(_fits_on(node, free[node.node_id], demand) == 0 for node in with_room):
        return MEMORY
    total_free = sum(max(free[node.node_id], 0) for node in live)
    if total_free >= demand.allocations * demand.threads:
        return NODE_SIZE  # enough processors in all, but no node has threads_per_allocation of them free
    return PROCESSORS


def assess(demand: Demand, nodes: tuple[MlNode, ...], used_by_others: Mapping[str, int]) -> Capacity:
    """Apply the placement rules; ``used_by_others``: processors other deployments use, per node id."""
    free = {node.node_id: node.processors - used_by_others.get(node.node_id, 0) for node in nodes}
    live = [node for node in nodes if not node.shutting_down]
    fitting = min(sum(_fits_on(node, free[node.node_id], demand) for node in live), demand.allocations)
    available = sum(node.processors for node in live)
    others = sum(used_by_others.get(node.node_id, 0) for node in live)
    free_total = max(available - others, 0)
    required = demand.allocations * demand.threads
    limiting = _limiting(demand, nodes, free, fitting)
    memories = [node.free_memory_bytes for node in live if node.free_memory_bytes is not None]
    largest_memory = max(memories) if memories else None
    memory_short = 0
    if limiting == MEMORY and demand.memory_bytes is not None and largest_memory is not None:
        memory_short = max(demand.memory_bytes - largest_memory, 0)
    return Capacity(
        allocations=demand.allocations,
        threads=demand.threads,
        required_processors=required,
        available_processors=available,
        used_by_others=others,
        free_processors=free_total,
        shortfall_processors=(demand.allocations - fitting) * demand.threads if limiting is not None else 0,
        largest_free_on_node=max((max(free[node.node_id], 0) for node in live), default=0),
        fitting_allocations=fitting,
        memory_required_bytes=demand.memory_bytes,
        largest_free_memory_bytes=largest_memory,
        shortfall_memory_bytes=memory_short,
        limiting=limiting,
    )


def _mib(value: int) -> str:
    return f"{value // (1024 * 1024)} MiB"


def _lower(capacity: Capacity) -> str:
    if capacity.fitting_allocations > 0:
        return f", or lower numberOfAllocations to {capacity.fitting_allocations}"
    return ""


def message(capacity: Capacity, verb: str = "start") -> str:
    """What is short and what would fix it (``verb``: ``start`` or ``run``)."""
    cap = capacity
    head = (
        f"cannot {verb} {cap.allocations} allocations: needs {cap.required_processors} processors "
        f"({cap.allocations} x {cap.threads} threads); ML nodes have {cap.available_processors}, "
        f"{cap.used_by_others} used by other deployments: {cap.free_processors} free"
    )
    if cap.limiting == PROCESSORS:
        return f"{head}. Add {cap.shortfall_processors} processors{_lower(cap)}"
    if cap.limiting == NODE_SIZE:
        return (
            f"{head}; an allocation's {cap.threads} threads must run on one node and the most free on one node "
            f"is {cap.largest_free_on_node}. Add ML nodes with at least {cap.threads} processors, or lower "
            f"threadsPerAllocation{_lower(cap)}"
        )
    if cap.limiting == MEMORY and cap.memory_required_bytes is not None:
        largest = _mib(cap.largest_free_memory_bytes or 0)
        return (
            f"{head}; the model needs {_mib(cap.memory_required_bytes)} of native memory on a node and the most "
            f"free on one node is {largest}. Add {_mib(cap.shortfall_memory_bytes)} of ML memory per node, or "
            "stop other models"
        )
    if cap.limiting == WAITING_FOR_SCALE_UP:
        return f"{head}. Waiting for Elasticsearch to add ML capacity ({cap.shortfall_processors} processors short)"
    if cap.limiting == NODE_SHUTTING_DOWN:
        return (
            f"{head}; it would fit but for ML nodes that are shutting down. Add {cap.shortfall_processors} processors, "
            "or wait for the nodes to return"
        )
    return head


def status_fields(capacity: Capacity) -> dict[str, Any]:
    """``status.capacity`` (camelCase, JSON-ready)."""
    fields: dict[str, Any] = {
        "requiredProcessors": capacity.required_processors,
        "availableProcessors": capacity.available_processors,
        "usedByOtherDeployments": capacity.used_by_others,
        "freeProcessors": capacity.free_processors,
        "shortfallProcessors": capacity.shortfall_processors,
        "largestFreeProcessorsOnNode": capacity.largest_free_on_node,
        "threadsPerAllocation": capacity.threads,
        "fittingAllocations": capacity.fitting_allocations,
        "shortfallMemoryBytes": capacity.shortfall_memory_bytes,
    }
    if capacity.memory_required_bytes is not None:
        fields["memoryRequiredBytes"] = capacity.memory_required_bytes
    if capacity.largest_free_memory_bytes is not None:
        fields["largestFreeMemoryBytes"] = capacity.largest_free_memory_bytes
    if capacity.limiting is not None:
        fields["limitingFactor"] = capacity.limiting
    return fields


# ---------------------------------------------------------------------------------------------- from observations


def _others(snapshot: ClusterSnapshot, deployment_id: str) -> list[DeploymentStats]:
    """The other deployments that reserve processors (``low`` priority reserves none)."""
    return [
        other
        for other in snapshot.deployments.values()
        if other.deployment_id != deployment_id and other.priority != "low"
    ]


def used_by_others(snapshot: ClusterSnapshot, deployment_id: str) -> dict[str, int]:
    """Processors each node gives to the other deployments' running allocations."""
    used: dict[str, int] = {}
    for other in _others(snapshot, deployment_id):
        threads = other.threads_per_allocation or 1
        for route in other.nodes:
            if route.routing_state in ("started", "starting") and route.current_allocations:
                used[route.node_id] = used.get(route.node_id, 0) + route.current_allocations * threads
    return used


def pending_for_others(snapshot: ClusterSnapshot, deployment_id: str) -> list[tuple[int, int]]:
    """``(allocations, threads)`` the other deployments are planned to get but do not run yet.

    Elasticsearch's planner keeps every existing deployment's TARGET, not what it runs at the moment: while
    another deployment scales up (``allocation_count`` below ``target_allocation_count``), the allocations on
    their way already hold their processors. ``_stats`` does not say on which node they go."""
    pending: list[tuple[int, int]] = []
    for other in _others(snapshot, deployment_id):
        status = other.allocation_status
        if status is None:
            continue
        running = sum(
            route.current_allocations or 0 for route in other.nodes if route.routing_state in ("started", "starting")
        )
        missing = status.target_allocation_count - running
        if missing > 0:
            pending.append((missing, other.threads_per_allocation or 1))
    return pending


def _reserve(nodes: tuple[MlNode, ...], used: dict[str, int], pending: list[tuple[int, int]]) -> dict[str, int]:
    """``used`` plus the pending allocations, each laid whole on the node with the most processors free."""
    out = dict(used)
    for allocations, threads in pending:
        for _ in range(allocations):
            room = [node for node in nodes if not node.shutting_down]
            if not room:
                break
            best = max(room, key=lambda node: node.processors - out.get(node.node_id, 0))
            out[best.node_id] = out.get(best.node_id, 0) + threads
    return out


def _shutting_down(snapshot: ClusterSnapshot) -> frozenset[str]:
    """Nodes whose routes (of any deployment) Elasticsearch reports as stopped because the node shuts down."""
    return frozenset(
        route.node_id
        for stats in snapshot.deployments.values()
        for route in stats.nodes
        if "shutting down" in (route.reason or "").lower()
    )


def ml_nodes(
    nodes: tuple[MlNodeMemory, ...] | None, limits: MlLimits | None, shutting_down: frozenset[str] = frozenset()
) -> tuple[MlNode, ...]:
    """Per-node facts from ``_ml/memory/_stats``; without them, one node of ``_ml/info``'s figures (the largest
    node's processors, and the total as far as it goes), so the totals still hold."""
    if nodes:
        return tuple(
            MlNode(node.node_id, node.processors or 0, node.free_bytes, node.node_id in shutting_down) for node in nodes
        )
    if limits is None or not limits.total_ml_processors:
        return ()
    largest = limits.max_single_ml_node_processors or limits.total_ml_processors
    out: list[MlNode] = []
    remaining, index = limits.total_ml_processors, 0
    while remaining > 0:
        size = min(largest, remaining)
        out.append(MlNode(f"ml-{index}", size))
        remaining -= size
        index += 1
    return tuple(out)


def assess_observed(
    demand: Demand,
    snapshot: ClusterSnapshot,
    nodes: tuple[MlNodeMemory, ...] | None,
    limits: MlLimits | None,
) -> Capacity | None:
    """:func:`assess` on what was observed; ``None`` when nothing is known about the ML nodes."""
    shutting = _shutting_down(snapshot)
    found = ml_nodes(nodes, limits, shutting)
    if not found:
        return None
    used = used_by_others(snapshot, demand.deployment_id) if nodes else _spread(snapshot, demand, found)
    return assess(demand, found, _reserve(found, used, pending_for_others(snapshot, demand.deployment_id)))


def _spread(snapshot: ClusterSnapshot, demand: Demand, nodes: tuple[MlNode, ...]) -> dict[str, int]:
    """Without node ids that match ``_stats`` (only ``_ml/info`` totals), other deployments' processors are
    laid on the stand-in nodes in order."""
    remaining = sum(used_by_others(snapshot, demand.deployment_id).values())
    used: dict[str, int] = {}
    for node in nodes:
        take = min(node.processors, remaining)
        used[node.node_id] = take
        remaining -= take
    return used
