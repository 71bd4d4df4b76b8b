"""The simulated ML tier: time-driven convergence, rebalancing, node faults and adaptive scaling.

Nothing here runs in the background: :meth:`MlCluster.advance` replays every
simulated event due by ``clock.now()`` in time order, and every request (or a
tick) calls it first. Under a :class:`~esml_simulator.clock.FakeClock` behaviour is exactly
reproducible.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from esml_simulator.clock import Clock
from esml_simulator.ml import queueing
from esml_simulator.ml.capacity import ScalingSettings, scaling_possible
from esml_simulator.ml.downloads import settle as settle_downloads
from esml_simulator.ml.inference.endpoints import InferenceRegistry
from esml_simulator.ml.models import ModelStore
from esml_simulator.ml.planner import choose_reductions, place
from esml_simulator.ml.state import NODE_IS_SHUTTING_DOWN, AdaptiveSettings, Deployment, Node, Route, node_id_for
from esml_simulator.versions import EsVersion

#: Scale up when the load exceeds 90 % of capacity, down below 85 % (PR 111476).
SCALE_UP_THRESHOLD = 0.9
SCALE_DOWN_THRESHOLD = 0.85
SCALE_UP_COOLDOWN = 300.0
DEFAULT_ADAPTIVE_MAX = 32
NODE_PROCESS_FAILURE = "simulated failure: the inference process on this node crashed"


@dataclass
class ClusterSettings:
    allocation_delay: float = 1.0
    adaptive_interval: float = 10.0
    scale_to_zero_time: float = 24 * 3600.0
    stop_delay: float = 0.0
    can_scale: bool = False
    #: ``xpack.ml.max_lazy_ml_nodes`` and ``xpack.ml.max_ml_node_size`` (bytes; 0 = unset)
    max_lazy_ml_nodes: int = 0
    max_ml_node_size: int = 0
    #: Seeds the node ids: clusters with different seeds have different node ids.
    node_seed: str = "esml-simulator"

    @property
    def scaling(self) -> ScalingSettings:
        return ScalingSettings(self.can_scale, self.max_lazy_ml_nodes, self.max_ml_node_size)


class MlCluster:
    def __init__(self, clock: Clock, version: EsVersion, settings: ClusterSettings) -> None:
        self.clock = clock
        self.version = version
        self.settings = settings
        self.nodes: list[Node] = []
        self.models = ModelStore()
        self.deployments: dict[str, Deployment] = {}
        self.pipelines: dict[str, dict[str, Any]] = {}
        self.inference = InferenceRegistry(version)
        self.license = "platinum"
        self.upgrade_in_progress = False
        self.feature_reset_in_progress = False
        self._next_tick: float | None = None
        self._last_advance = clock.now()

    # -- nodes ---------------------------------------------------------------------------
    def add_node(self, processors: int, memory: int, name: str | None = None) -> Node:
        index = len(self.nodes)
        node = Node(index, node_id_for(index, self.settings.node_seed), name or f"ml-{index}", processors, memory)
        self.nodes.append(node)
        self.advance()
        self.rebalance()
        return node

    def find_node(self, name_or_id: str) -> Node | None:
        for node in self.nodes:
            if name_or_id in (node.id, node.name):
                return node
        return None

    def fail_node(self, node: Node, mode: str = "leave") -> None:
        self.advance()
        if mode == "leave":
            node.status = "left"
            for dep in self.deployments.values():
                if dep.routes.pop(node.id, None) is not None:
                    dep.recompute_state()
        elif mode == "process_failure":
            node.status = "failing"
            for dep in self.deployments.values():
                route = dep.routes.get(node.id)
                if route is not None and route.state in ("starting", "started"):
                    route.state, route.reason, route.ready_at = "failed", NODE_PROCESS_FAILURE, None
                    dep.recompute_state()
        else:
            raise ValueError(f"unknown failure mode {mode!r}; expected 'leave' or 'process_failure'")
        self.rebalance()

    def shutdown_node(self, node: Node) -> None:
        """Mark ``node`` as shutting down: its routes stop (reason ``node is shutting down``) and their
        allocations are planned on the other nodes; the node takes no new allocations. The stopping routes
        stay until the node leaves (``fail_node``) or is restored (``restore_node``)."""
        self.advance()
        node.status = "shutting_down"
        for dep in self.deployments.values():
            route = dep.routes.get(node.id)
            if route is not None and route.state != "stopping":
                route.state, route.reason, route.ready_at = "stopping", NODE_IS_SHUTTING_DOWN, None
                dep.recompute_state()
        self.rebalance()

    @property
    def scaling_possible(self) -> bool:
        return scaling_possible(self.settings.scaling, self.nodes)

    def restore_node(self, node: Node) -> None:
        self.advance()
        if node.status == "shutting_down":
            for dep in self.deployments.values():
                route = dep.routes.get(node.id)
                if route is not None and route.reason == NODE_IS_SHUTTING_DOWN and dep.state != "stopping":
                    del dep.routes[node.id]  # its allocations were planned elsewhere when the shutdown began
                    dep.recompute_state()
        node.status = "up"
        self.rebalance()

    @property
    def ml_nodes(self) -> list[Node]:
        return [n for n in self.nodes if n.in_cluster]

    # -- time ----------------------------------------------------------------------------
    def next_event_time(self) -> float | None:
        times: list[float] = []
        for dep in self.deployments.values():
            if dep.stop_at is not None:
                times.append(dep.stop_at)
            times.extend(r.ready_at for r in dep.routes.values() if r.ready_at is not None)
        if self._next_tick is not None:
            times.append(self._next_tick)
        return min(times) if times else None

    def advance(self) -> None:
        now = self.clock.now()
        settle_downloads(self.models, now)
        while True:
            due = self.next_event_time()
            if due is None or due > now:
                break
            self._process(due)
        self._account_load(now)
        self._last_advance = now

    def _process(self, at: float) -> None:
        self._account_load(at)
        changed = False
        for dep in list(self.deployments.values()):
            if dep.stop_at is not None and dep.stop_at <= at:
                del self.deployments[dep.deployment_id]
                changed = True
                continue
            for route in dep.routes.values():
                if route.ready_at is None or route.ready_at > at:
                    continue
                route.ready_at = None
                node = self.find_node(route.node_id)
                if route.state == "starting":
                    problem = self._load_problem(dep, node)
                    if problem:
                        route.state, route.reason = "failed", problem
                    else:
                        route.state, route.current, route.started_at = "started", route.target, at
                elif route.state == "started":
                    route.current = route.target
            dep.recompute_state()
        if self._next_tick is not None and self._next_tick <= at:
            self._next_tick = at + self.settings.adaptive_interval
            self._adaptive_tick(at)
        if changed:
            self.rebalance()

    def _load_problem(self, dep: Deployment, node: Node | None) -> str | None:
        if node is None or node.status == "failing":
            return NODE_PROCESS_FAILURE
        model = self.models.get(dep.model_id)
        if model is not None and model.model_type == "pytorch" and not model.has_vocabulary:
            return f"Could not find trained model vocabulary [{dep.model_id}]"
        return None

    def _account_load(self, until: float) -> None:
        for dep in self.deployments.values():
            load = dep.load
            if until > load.since and (load.requests_per_second > 0 or load.queues):
                queueing.account(dep, until - load.since)
                if load.requests_per_second > 0 and dep.allocation_count > 0:
                    load.last_request_at = until
            load.since = max(load.since, until)

    def ensure_ticking(self) -> None:
        if self._next_tick is None and any(d.adaptive_enabled for d in self.deployments.values()):
            self._next_tick = self.clock.now() + self.settings.adaptive_interval

    # -- placement -----------------------------------------------------------------------
    def others(self, dep: Deployment) -> list[Deployment]:
        return [d for d in self.deployments.values() if d is not dep]

    def apply_additions(self, dep: Deployment, added: dict[str, int]) -> None:
        ready = self.clock.now() + self.settings.allocation_delay
        for node_id, count in added.items():
            route = dep.routes.get(node_id)
            if route is None:
                dep.routes[node_id] = Route(node_id, count, count, "starting", "", ready_at=ready)
            else:
                route.target += count
                if route.state == "starting":
                    route.current = route.target
                route.ready_at = ready
        dep.recompute_state()

    def rebalance(self) -> None:
        now = self.clock.now()
        for dep in sorted(self.deployments.values(), key=lambda d: (d.start_time, d.deployment_id)):
            if dep.state == "stopping":
                continue
            for route in dep.routes.values():
                node = self.find_node(route.node_id)
                if route.state == "failed" and node is not None and node.status == "up":
                    route.state, route.reason = "starting", ""
                    route.current = route.target
                    route.ready_at = now + self.settings.allocation_delay
            missing = dep.number_of_allocations - dep.total_target
            if missing > 0:
                placement = place(self.nodes, self.others(dep), dep, missing)
                self.apply_additions(dep, placement.added)
                dep.reason = placement.explanation
            dep.recompute_state()

    def reduce(self, dep: Deployment, new_total: int) -> None:
        now = self.clock.now()
        for node_id, take in choose_reductions(dep, dep.total_target - new_total).items():
            route = dep.routes[node_id]
            route.target -= take
            if route.target <= 0:
                del dep.routes[node_id]
            elif route.state == "starting":
                route.current = route.target
            else:
                route.ready_at = now + self.settings.allocation_delay
        dep.reason = None

    def set_allocations(self, dep: Deployment, total: int) -> str | None:
        """Re-plan ``dep`` for ``total`` allocations; returns "insufficient" when it cannot fit."""
        if total > dep.total_target:
            placement = place(self.nodes, self.others(dep), dep, total - dep.total_target)
            if placement.placed < total - dep.total_target and not self.scaling_possible:
                return "insufficient"
            dep.number_of_allocations = total
            self.apply_additions(dep, placement.added)
            dep.reason = placement.explanation
        else:
            dep.number_of_allocations = total
            self.reduce(dep, total)
            if total == 0:
                dep.max_assigned = max(dep.max_assigned, dep.total_current)
                return None
        dep.recompute_state()
        return None

    # -- adaptive allocations ------------------------------------------------------------
    def _adaptive_tick(self, at: float) -> None:
        any_enabled = False
        for dep in list(self.deployments.values()):
            if not dep.adaptive_enabled or dep.state == "stopping":
                continue
            any_enabled = True
            desired = self._desired_allocations(dep, at)
            if desired != dep.number_of_allocations and (dep.state == "started" or desired > 0):
                growing = desired > dep.number_of_allocations
                if self.set_allocations(dep, desired) is None and growing:
                    dep.load.last_scale_up_at = at
        if not any_enabled:
            self._next_tick = None

    def _desired_allocations(self, dep: Deployment, at: float) -> int:
        assert dep.adaptive is not None
        current = dep.number_of_allocations
        demand = dep.load.demand
        lower = dep.adaptive.min if dep.adaptive.min is not None else 0
        upper = dep.adaptive.max if dep.adaptive.max is not None else DEFAULT_ADAPTIVE_MAX
        cooling = dep.load.last_scale_up_at is not None and at - dep.load.last_scale_up_at < SCALE_UP_COOLDOWN
        if demand > 0:
            desired = max(1, current)
            while demand > SCALE_UP_THRESHOLD * desired:
                desired += 1
            while desired > 1 and demand < SCALE_DOWN_THRESHOLD * (desired - 1):
                desired -= 1
        else:
            desired = min(current, 1)
            idle_since = dep.load.last_request_at if dep.load.last_request_at is not None else dep.start_time
            if lower == 0 and at - idle_since >= self.settings.scale_to_zero_time:
                desired = 0
        if cooling:
            desired = max(desired, current)
        return max(lower, min(upper, desired))

    def set_load(self, dep: Deployment, requests_per_second: float, inference_time_ms: float) -> None:
        self.advance()
        dep.load.requests_per_second = max(0.0, requests_per_second)
        dep.load.inference_time_ms = max(0.0, inference_time_ms)
        dep.load.since = self.clock.now()
        if requests_per_second > 0:
            dep.load.last_request_at = self.clock.now()
        self.ensure_ticking()

    # -- helpers -------------------------------------------------------------------------
    def pipeline_refs(self, ids: set[str]) -> list[str]:
        return sorted(pid for pid, body in self.pipelines.items() if _references(body, ids))

    def initial_allocations(self, explicit: int | None, adaptive: AdaptiveSettings | None) -> int:
        if explicit is not None:
            return explicit
        if adaptive is not None and adaptive.enabled:
            return adaptive.min if adaptive.min and adaptive.min > 0 else 1
        return 1


def _references(node: object, ids: set[str]) -> bool:
    if isinstance(node, dict):
        inference = node.get("inference")
        if isinstance(inference, dict) and inference.get("model_id") in ids:
            return True
        return any(_references(v, ids) for v in node.values())
    if isinstance(node, list):
        return any(_references(v, ids) for v in node)
    return False
