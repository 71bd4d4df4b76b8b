"""Test control: the Python :class:`Control` API and the same operations over HTTP under ``/_sim/``."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from esml_simulator.clock import FakeClock
from esml_simulator.control import ops
from esml_simulator.control.ops import AdminError
from esml_simulator.faults import Fault, make_fault
from esml_simulator.ml import render
from esml_simulator.ml.deploy_ops import ABSENT, AdaptiveUpdate, validate_update
from esml_simulator.ml.injected import InjectedStats, parse_values
from esml_simulator.ml.state import Deployment, Node

if TYPE_CHECKING:
    from esml_simulator.ml.engine import Engine

__all__ = ["AdminError", "Control"]


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
            raise AdminError(400, "the simulator keeps no state (--ephemeral, or --port 0 without --state-file)")
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

    def shutdown_node(self, name_or_id: str) -> dict[str, Any]:
        """Mark a node as shutting down (the node shutdown API's effect on ML); ``restore_node`` undoes it."""
        node = self._node(name_or_id)
        if not node.in_cluster:
            raise AdminError(409, f"node [{node.name}] is not in the cluster")
        self.engine.cluster.shutdown_node(node)
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

    def set_inference_stats(
        self, deployment_id: str, nodes: dict[str, dict[str, float]] | None = None, **values: float
    ) -> dict[str, Any]:
        """Inject the inference load ``_stats`` shows for a deployment (replacing earlier injected values).

        ``values`` are deployment-level (counts split over the started nodes by allocations, averages on every
        node); ``nodes`` maps a node name or id to values for that node only. Fields: see ``injected.FIELDS``.
        """
        dep = self._deployment(deployment_id)
        try:
            injected = InjectedStats(parse_values(values), set_at=self.engine.clock.now())
            for name, node_values in (nodes or {}).items():
                injected.nodes[self._node(name).id] = parse_values(node_values)
        except ValueError as exc:
            raise AdminError(400, str(exc)) from None
        dep.injected = injected
        return injected.dump()

    def clear_inference_stats(self, deployment_id: str) -> None:
        """Back to the load computed from the simulated traffic."""
        self._deployment(deployment_id).injected = None

    def _deployment(self, deployment_id: str) -> Deployment:
        self.engine.cluster.advance()
        dep = self.engine.cluster.deployments.get(deployment_id)
        if dep is None:
            raise AdminError(404, f"no deployment [{deployment_id}]")
        return dep

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
    def add_model(
        self, model_id: str, size_bytes: int | None = None, vocabulary: bool = True, task_type: str | None = None
    ) -> dict[str, Any]:
        """Preload a model; ``task_type`` gives it an inference config an endpoint of that task type accepts."""
        try:
            model = self.engine.add_model(model_id, size_bytes, vocabulary=vocabulary, task_type=task_type)
        except ValueError as exc:
            raise AdminError(400, str(exc)) from None
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
            elif key in ("max_lazy_ml_nodes", "max_ml_node_size"):
                if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                    raise AdminError(400, f"[{key}] must be a non-negative integer")
                setattr(cluster.settings, key, value)
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
            "max_lazy_ml_nodes": c.settings.max_lazy_ml_nodes,
            "max_ml_node_size": c.settings.max_ml_node_size,
            "scaling_possible": c.scaling_possible,
            "allocation_delay": c.settings.allocation_delay,
        }

    # -- inference endpoints and security (ops) -------------------------------------------
    def add_inference_endpoint(
        self,
        inference_id: str,
        deployment_id: str | None = None,
        *,
        task_type: str = "sparse_embedding",
        model_id: str | None = None,
        num_threads: int | None = None,
        num_allocations: int | None = None,
        adaptive_allocations: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Store an endpoint directly, with no checks and without starting anything.

        Without ``deployment_id`` (or with the inference id) the endpoint owns the deployment named after
        it; otherwise it is attached to ``deployment_id``. Unset values come from that deployment if it
        exists (else ELSER on one thread with one allocation).
        """
        endpoint = ops.direct_endpoint(
            self.engine.cluster,
            inference_id,
            deployment_id,
            task_type=task_type,
            model_id=model_id,
            num_threads=num_threads,
            num_allocations=num_allocations,
            adaptive=adaptive_allocations,
        )
        self.engine.cluster.inference.put(endpoint)
        return endpoint.render(self.engine.version)

    def inference_endpoints(self) -> list[dict[str, Any]]:
        """Every endpoint (stored and default) with its stored config and who owns which deployment."""
        return ops.describe_endpoints(self.engine)

    def remove_inference_endpoint(self, inference_id: str) -> None:
        """Forget a stored endpoint (its deployment is left alone)."""
        self.engine.cluster.inference.remove(inference_id)

    def add_user(self, username: str, password: str, role: str | list[str] = "superuser") -> dict[str, Any]:
        """A basic-auth user with a built-in role or a list of cluster privileges (``["manage_ml", "monitor"]``)."""
        return ops.add_user(self.engine.security, username, password, role)

    def add_api_key(self, key_id: str, key: str, role: str | list[str] = "superuser") -> dict[str, Any]:
        """An API key of ``elastic`` limited to a built-in role or a list of cluster privileges."""
        return ops.add_api_key(self.engine.security, key_id, key, role)

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
                    "queued": dict(sorted(dep.load.queues.items())),
                    "rejected": dict(sorted(dep.load.rejected.items())),
                },
                "injected_inference_stats": None if dep.injected is None else dep.injected.dump(),
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
            "inference_endpoints": self.inference_endpoints(),
            "faults": self.faults(),
            "request_count": len(engine.requests),
            "next_event_time": cluster.next_event_time(),
        }
