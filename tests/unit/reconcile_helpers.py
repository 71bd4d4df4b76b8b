"""Builders for the pure reconcile tests: fixed times, small defaults, explicit overrides."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from esml_operator.elasticsearch.errors import ElasticsearchError
from esml_operator.elasticsearch.models import (
    AdaptiveAllocations,
    AllocationStatus,
    Assignment,
    ClusterInfo,
    ClusterSnapshot,
    DeploymentStats,
    EsVersion,
    NodeRoute,
    TaskParameters,
)
from esml_operator.reconcile import (
    ActionFailure,
    ConfigProblem,
    Decision,
    Observation,
    RecentAction,
    ResourceRef,
    decide,
    parse_or_error,
)

NOW = datetime(2026, 11, 25, 10, 0, 0, tzinfo=UTC)
SNAPSHOT_AT = NOW - timedelta(seconds=5)
EARLIER = "2026-11-25T09:00:00Z"
REF = ResourceRef(namespace="ns", name="mdep", generation=3, uid="uid-1")
MODEL = "my-model"
RESYNC = 300.0
SELECTOR = "esml.io/model-deployment=mdep"
_MISSING = object()
ADAPTIVE_SPEC = {"enabled": True, "minNumberOfAllocations": 0, "maxNumberOfAllocations": 4}


def spec(**overrides: Any) -> dict[str, Any]:
    """A valid raw spec; ``key=None`` removes a key."""
    raw: dict[str, Any] = {
        "modelId": MODEL,
        "numberOfAllocations": 2,
        "elasticsearch": {"url": "https://es.example:9200"},
    }
    for key, value in overrides.items():
        if value is None:
            raw.pop(key, None)
        else:
            raw[key] = value
    return raw


def allocation(count: int, target: int, state: str | None = None) -> AllocationStatus:
    if state is None:
        state = "starting" if count == 0 and target > 0 else "started" if count < target else "fully_allocated"
    return AllocationStatus(allocation_count=count, target_allocation_count=target, state=state)


def stats(**overrides: Any) -> DeploymentStats:
    values: dict[str, Any] = {
        "deployment_id": MODEL,
        "model_id": MODEL,
        "state": "started",
        "allocation_status": allocation(2, 2),
        "number_of_allocations": 2,
        "threads_per_allocation": 1,
        "queue_capacity": 10000,
        "cache_size": "1.5kb",
        "priority": "normal",
        "start_time_ms": 1_764_064_800_000,  # 2025-11-25T10:00:00Z
        "nodes": (
            NodeRoute(node_id="node-b", routing_state="started", node_name="es-ml-1", current_allocations=1),
            NodeRoute(node_id="node-a", routing_state="started", node_name="es-ml-0", current_allocations=1),
        ),
    }
    values.update(overrides)
    return DeploymentStats(**values)


def adaptive(enabled: bool = True, minimum: int | None = 0, maximum: int | None = 4) -> AdaptiveAllocations:
    return AdaptiveAllocations(enabled, minimum, maximum)


def assignment(number: int, routes: Mapping[str, tuple[int, int]], state: str = "started") -> Assignment:
    return Assignment(
        task_parameters=TaskParameters(
            model_id=MODEL,
            deployment_id=MODEL,
            number_of_allocations=number,
            threads_per_allocation=1,
            queue_capacity=10000,
        ),
        assignment_state=state,
        routing_table=tuple(
            NodeRoute(node_id=node, routing_state="started", current_allocations=cur, target_allocations=tgt)
            for node, (cur, tgt) in routes.items()
        ),
    )


def observation(
    *deployments: DeploymentStats,
    version: str | None = "8.16.0",
    models: tuple[str, ...] = (MODEL,),
    snapshot: Any = _MISSING,
    snapshot_at: datetime | None = SNAPSHOT_AT,
    fetch_error: ElasticsearchError | None = None,
    config_problem: ConfigProblem | None = None,
    last_assignment: Assignment | None = None,
    last_failure: ActionFailure | None = None,
    recent: RecentAction | None = None,
    throttle_wait: float = 0.0,
    failed_polls: int = 0,
) -> Observation:
    if snapshot is _MISSING:
        snapshot = ClusterSnapshot(
            model_ids=frozenset(models), deployments={item.deployment_id: item for item in deployments}
        )
    cluster = ClusterInfo(EsVersion.parse(version), cluster_name="prod") if version is not None else None
    return Observation(
        cluster=cluster,
        snapshot=snapshot,
        snapshot_at=snapshot_at if snapshot is not None else None,
        fetch_error=fetch_error,
        config_problem=config_problem,
        last_assignment=last_assignment,
        last_failure=last_failure,
        selector=SELECTOR,
        recent=recent,
        throttle_wait=throttle_wait,
        failed_polls=failed_polls,
    )


def failure(
    error: ElasticsearchError,
    action: str = "update",
    *,
    seconds_ago: float = 10.0,
    attempts: int = 1,
    generation: int = REF.generation,
) -> ActionFailure:
    return ActionFailure(
        action=action,
        error=error,
        at=NOW - timedelta(seconds=seconds_ago),
        attempts=attempts,
        generation=generation,
    )


def run(
    raw_spec: Mapping[str, Any] | None = None,
    obs: Observation | None = None,
    previous: Mapping[str, Any] | None = None,
    *,
    now: datetime = NOW,
    jitter: float = 0.5,
    resync: float = RESYNC,
) -> Decision:
    return decide(
        parse_or_error(spec() if raw_spec is None else raw_spec),
        REF,
        observation(stats()) if obs is None else obs,
        previous,
        now,
        resync_interval=resync,
        jitter=jitter,
    )


def cond(decision: Decision, kind: str) -> dict[str, Any]:
    matches = [item for item in decision.status["conditions"] if item["type"] == kind]
    assert len(matches) == 1, decision.status["conditions"]
    return dict(matches[0])


def summary(decision: Decision) -> tuple[str, str, str, str, str]:
    """(Ready status, Ready reason, Reconciling status, Stalled status, Stalled reason)."""
    ready, reconciling, stalled = cond(decision, "Ready"), cond(decision, "Reconciling"), cond(decision, "Stalled")
    return ready["status"], ready["reason"], reconciling["status"], stalled["status"], stalled["reason"]
