"""The simulator core, independent of HTTP: cluster, security, faults, the request log, persistence."""

from __future__ import annotations

import base64
import hashlib
from typing import Any

from esml_simulator.clock import Clock, FakeClock, SystemClock
from esml_simulator.config import INFERENCE_UPDATE_STYLES, SimulatorConfig
from esml_simulator.faults import Faults
from esml_simulator.ml import render
from esml_simulator.ml.builtin_models import CONFIG_OF_TASK, builtin_model, inference_config, is_builtin
from esml_simulator.ml.cluster import ClusterSettings, MlCluster
from esml_simulator.ml.deploy_ops import AdaptiveUpdate, stop_checks, update_checks
from esml_simulator.ml.injected import InjectedStats
from esml_simulator.ml.models import TrainedModel, preloaded_model
from esml_simulator.ml.state import AdaptiveSettings, Deployment, Load, Node, Route
from esml_simulator.security.auth import Principal, Security
from esml_simulator.units import ByteSize
from esml_simulator.versions import EsVersion


class Engine:
    def __init__(self, config: SimulatorConfig, clock: Clock | None = None) -> None:
        self.config = config
        self.version = EsVersion.parse(config.es_version)
        if config.inference_update_style not in INFERENCE_UPDATE_STYLES:
            raise ValueError(f"inference_update_style must be one of {', '.join(INFERENCE_UPDATE_STYLES)}")
        self.clock: Clock = clock or (FakeClock() if config.fake_clock else SystemClock())
        self.faults = Faults()
        self.requests: list[dict[str, Any]] = []
        self.cluster_uuid = (
            base64.urlsafe_b64encode(hashlib.sha256(config.cluster_name.encode()).digest()[:16]).decode().rstrip("=")
        )
        self.security = Security(config.security, config.elastic_password)
        self.cluster = self._new_cluster()
        self.reset()

    def _new_cluster(self) -> MlCluster:
        c = self.config
        settings = ClusterSettings(
            allocation_delay=c.allocation_delay,
            adaptive_interval=c.adaptive_interval,
            scale_to_zero_time=c.scale_to_zero_time,
            stop_delay=c.stop_delay,
            can_scale=c.can_scale,
            max_lazy_ml_nodes=c.max_lazy_ml_nodes,
            max_ml_node_size=c.max_ml_node_size,
            node_seed=c.cluster_name,
        )
        return MlCluster(self.clock, self.version, settings)

    def reset(self) -> None:
        """Back to the start-up state: configured nodes, preloaded models, no deployments or faults."""
        c = self.config
        self.cluster = self._new_cluster()
        self.cluster.license = c.license
        for _ in range(c.nodes):
            self.cluster.add_node(c.processors, c.node_memory)
        for model_id in c.models:
            self.add_model(model_id)
        self.security = Security(c.security, c.elastic_password)
        for username, password, role in c.users:
            self.security.add_user(username, password, role)
        for key_id, key, role in c.api_keys:
            self.security.add_api_key(key_id, key, role)
        self.faults.clear()
        self.requests.clear()

    def add_model(
        self, model_id: str, size: int | None = None, *, vocabulary: bool = True, task_type: str | None = None
    ) -> TrainedModel:
        """A fully defined pytorch model: a built-in one (ELSER, E5, rerank) by its id, else a NER model, or
        one whose inference config serves ``task_type`` (``sparse_embedding``, ``text_embedding``, ``rerank``)."""
        now_ms = int(self.clock.now() * 1000)
        if is_builtin(model_id) and size is None and task_type is None:
            model = builtin_model(model_id, now_ms)
        else:
            model = preloaded_model(model_id, size if size is not None else self.config.model_size, now_ms)
            if task_type is not None:
                if task_type not in CONFIG_OF_TASK:
                    raise ValueError(f"task_type must be one of {sorted(CONFIG_OF_TASK)}")
                model.config["inference_config"] = inference_config(CONFIG_OF_TASK[task_type])
        model.has_vocabulary = vocabulary
        self.cluster.models.add(model)
        return model

    # -- used by handlers ----------------------------------------------------------------
    def authorize(self, principal: Principal | None, action: str) -> None:
        """A 403 unless ``principal`` (None: unauthenticated) holds a privilege granting ``action``."""
        if self.security.enabled:
            self.security.authorize(principal, action, self.version)

    async def wait_until(self, deadline: float) -> None:
        await self.clock.sleep_until(deadline)

    def update(self, deployment_id: str, number: int | None, adaptive: AdaptiveUpdate) -> dict[str, Any]:
        """``_update`` once its request is valid: the changed assignment, or the ML error."""
        self.cluster.advance()
        return render.assignment(update_checks(self.cluster, deployment_id, number, adaptive), self.version)

    async def stop(self, deployment_id: str, allow_no_match: bool, force: bool) -> None:
        self.cluster.advance()
        dep = stop_checks(self.cluster, deployment_id, allow_no_match, force)
        while dep is not None and self.cluster.deployments.get(deployment_id) is dep:
            upcoming = self.cluster.next_event_time()
            if upcoming is None:
                break
            await self.clock.sleep_until(upcoming)
            self.cluster.advance()

    def assignment(self, deployment_id: str) -> dict[str, Any]:
        return render.assignment(self.cluster.deployments[deployment_id], self.version)

    # -- persistence ---------------------------------------------------------------------
    def dump(self) -> dict[str, Any]:
        cluster = self.cluster
        cluster.advance()
        return {
            "format": 1,
            "es_version": str(self.version),
            "saved_at": self.clock.now(),
            "nodes": [n.dump() for n in cluster.nodes],
            "models": [m.dump() for m in cluster.models.models.values() if not m.builtin],
            "model_aliases": dict(cluster.models.aliases),
            "deployments": [_dump_deployment(d) for d in cluster.deployments.values()],
            "pipelines": cluster.pipelines,
            "inference_endpoints": cluster.inference.dump(),
            "api_keys": self.security.dump_keys(),
            "users": self.security.dump_users(),
            "cluster": {
                "license": cluster.license,
                "upgrade_in_progress": cluster.upgrade_in_progress,
                "feature_reset_in_progress": cluster.feature_reset_in_progress,
                "can_scale": cluster.settings.can_scale,
                "max_lazy_ml_nodes": cluster.settings.max_lazy_ml_nodes,
                "max_ml_node_size": cluster.settings.max_ml_node_size,
            },
        }

    def load(self, data: dict[str, Any]) -> None:
        cluster = self.cluster
        cluster.nodes = [Node(**n) for n in data.get("nodes", [])] or cluster.nodes
        for item in data.get("models", []):
            cluster.models.add(TrainedModel.load(item))
        cluster.models.aliases = dict(data.get("model_aliases", {}))
        cluster.deployments = {}
        shift = self.clock.now() - float(data.get("saved_at", self.clock.now()))
        for item in data.get("deployments", []):
            dep = _load_deployment(item, shift)
            cluster.deployments[dep.deployment_id] = dep
        cluster.pipelines = dict(data.get("pipelines", {}))
        model_of = {d.deployment_id: d.model_id for d in cluster.deployments.values()}
        cluster.inference.load(data.get("inference_endpoints", []), model_of)
        self.security.load_keys(data.get("api_keys", []))
        self.security.load_users(data.get("users", []))
        flags = data.get("cluster", {})
        cluster.license = flags.get("license", cluster.license)
        cluster.upgrade_in_progress = bool(flags.get("upgrade_in_progress", False))
        cluster.feature_reset_in_progress = bool(flags.get("feature_reset_in_progress", False))
        cluster.settings.can_scale = bool(flags.get("can_scale", cluster.settings.can_scale))
        cluster.settings.max_lazy_ml_nodes = int(flags.get("max_lazy_ml_nodes", cluster.settings.max_lazy_ml_nodes))
        cluster.settings.max_ml_node_size = int(flags.get("max_ml_node_size", cluster.settings.max_ml_node_size))
        cluster.ensure_ticking()


def _dump_deployment(d: Deployment) -> dict[str, Any]:
    return {
        "deployment_id": d.deployment_id,
        "model_id": d.model_id,
        "model_bytes": d.model_bytes,
        "threads": d.threads,
        "number_of_allocations": d.number_of_allocations,
        "queue_capacity": d.queue_capacity,
        "cache_size": {"size": d.cache_size.size, "unit": d.cache_size.unit, "bytes": d.cache_size.bytes},
        "priority": d.priority,
        "memory": d.memory,
        "per_deployment_memory_bytes": d.per_deployment_memory_bytes,
        "per_allocation_memory_bytes": d.per_allocation_memory_bytes,
        "start_time": d.start_time,
        "state": d.state,
        "reason": d.reason,
        "routes": [vars(r) for r in d.routes.values()],
        "max_assigned": d.max_assigned,
        "adaptive": None if d.adaptive is None else vars(d.adaptive),
        "load": vars(d.load),
        "stop_at": d.stop_at,
        "injected": None if d.injected is None else d.injected.dump(),
    }


def _load_traffic(raw: dict[str, Any], shift: float) -> Load:
    """The deployment's traffic; the times of queued ``_infer`` calls move with the downtime."""
    load = Load(**raw)
    load.slots = {node: [t + shift for t in times] for node, times in load.slots.items()}
    load.calls = {node: [[start + shift, end + shift] for start, end in calls] for node, calls in load.calls.items()}
    return load


def _load_deployment(item: dict[str, Any], shift: float) -> Deployment:
    """Restore a deployment; pending timestamps move with the downtime so nothing jumps ahead."""

    def moved(t: float | None) -> float | None:
        return None if t is None else t + shift

    routes = {}
    for r in item["routes"]:
        route = Route(**r)
        route.ready_at = moved(route.ready_at)
        routes[route.node_id] = route
    cache = item["cache_size"]
    dep = Deployment(
        deployment_id=item["deployment_id"],
        model_id=item["model_id"],
        model_bytes=item["model_bytes"],
        threads=item["threads"],
        number_of_allocations=item["number_of_allocations"],
        queue_capacity=item["queue_capacity"],
        cache_size=ByteSize(cache["size"], cache["unit"], cache["bytes"]),
        priority=item["priority"],
        memory=item["memory"],
        per_deployment_memory_bytes=item["per_deployment_memory_bytes"],
        per_allocation_memory_bytes=item["per_allocation_memory_bytes"],
        start_time=item["start_time"],
        state=item["state"],
        reason=item["reason"],
        routes=routes,
        max_assigned=item["max_assigned"],
        adaptive=None if item["adaptive"] is None else AdaptiveSettings(**item["adaptive"]),
        load=_load_traffic(item["load"], shift),
        stop_at=moved(item["stop_at"]),
        injected=None if item.get("injected") is None else InjectedStats.load(item["injected"]),
    )
    dep.load.since = dep.load.since + shift
    return dep
