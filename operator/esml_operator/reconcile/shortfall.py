"""When a deployment is short of capacity: ``status.capacity``, ``status.vcpus`` and Ready's reason.

A deployment is short when Elasticsearch refused its ``_start``/``_update`` with 429, or when it runs fewer
allocations than its target (or an accepted start has none yet) and Elasticsearch says why (a reason on the
deployment or a route: allocations merely on their way have none). Only then does the runtime fetch
``_ml/info`` and ``_ml/memory/_stats`` (see :func:`wanted`); :func:`apply` turns them into the numbers.
Ready's message keeps its text while the reason and the shortfall stay the same, so the Warning event
comes only when one of them changes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from esml_operator.elasticsearch.models import DeploymentStats

from . import conditions as c
from .backoff import is_capacity_error
from .capacity import (
    INSUFFICIENT_CAPACITY,
    WAITING_FOR_CAPACITY,
    WAITING_FOR_SCALE_UP,
    Demand,
    assess_observed,
    message,
    status_fields,
)
from .conditions import ConditionValue
from .gate import Context
from .model import Observation
from .observed import View

#: How the message says what cannot happen, per short verb.
_VERBS = {"update": "scale to"}


def _stats(view: View | None) -> DeploymentStats | None:
    return view if isinstance(view, DeploymentStats) else None


def short_verb(observation: Observation, deployment_id: str, generation: int) -> str | None:
    """``start``/``update`` (refused or waiting) or ``run`` (fewer allocations than the target); ``None``: not short."""
    failure = observation.last_failure
    if failure is not None and failure.generation == generation and is_capacity_error(failure.error, failure.action):
        return failure.action
    snapshot = observation.snapshot
    stats = snapshot.deployments.get(deployment_id) if snapshot is not None else None
    allocation = stats.allocation_status if stats is not None else None
    if stats is None or allocation is None or allocation.allocation_count >= allocation.target_allocation_count:
        return None
    if not stats.reason and not any(route.reason for route in stats.nodes):
        return None  # allocations on their way (Elasticsearch gives a reason when it cannot place them)
    if stats.state == "started":
        return "run"
    return "start" if stats.state == "starting" and allocation.allocation_count == 0 else None


def wanted(observation: Observation, deployment_id: str, generation: int) -> bool:
    """Whether this pass needs the cluster's capacity numbers."""
    return short_verb(observation, deployment_id, generation) is not None


def vcpus(stats: DeploymentStats | None) -> int | None:
    """Allocations running x threads per allocation (the cost figure Kibana shows)."""
    if stats is None or stats.allocation_status is None or stats.threads_per_allocation is None:
        return None
    return stats.allocation_status.allocation_count * stats.threads_per_allocation


def _demand(ctx: Context, stats: DeploymentStats | None, verb: str) -> Demand:
    spec = ctx.spec
    allocations = spec.number_of_allocations
    if spec.adaptive_enabled and stats is not None and stats.allocation_status is not None:
        allocations = stats.allocation_status.target_allocation_count
    threads = spec.threads_per_allocation or (stats.threads_per_allocation if stats else None) or 1
    snapshot = ctx.observation.snapshot
    memory = snapshot.model_memory.get(spec.model_id) if snapshot is not None else None
    hosted = frozenset(route.node_id for route in stats.nodes if route.current_allocations) if stats else frozenset()
    return Demand(spec.deployment_id, max(allocations, 1), threads, memory, can_scale(ctx.observation, verb), hosted)


def can_scale(observation: Observation, verb: str) -> bool:
    """Whether Elasticsearch is waiting for ML capacity to be added rather than refusing.

    It refuses a ``_start``/``_update`` it cannot place unless the ML tier can grow, so an accepted one that
    is short says it can: a start with no allocations yet, or an answer that planned fewer allocations than
    asked. ``_ml/info`` says so too when ``total_ml_processors`` (which counts the lazy ML nodes that may
    still join) exceeds what the ML nodes have now."""
    failure, assignment = observation.last_failure, observation.last_assignment
    refused = failure is not None and is_capacity_error(failure.error, failure.action)
    if refused:
        return False
    if verb == "start":
        return True
    if assignment is not None and assignment.routing_table:
        planned = sum(route.target_allocations or 0 for route in assignment.routing_table)
        if planned < assignment.task_parameters.number_of_allocations:
            return True
    facts = observation.capacity
    if facts is None or facts.limits is None or not facts.nodes:
        return False
    total = facts.limits.total_ml_processors
    return total is not None and total > sum(node.processors or 0 for node in facts.nodes)


def _kept_message(previous: Mapping[str, Any] | None, reason: str, fields: Mapping[str, Any]) -> str | None:
    """The previous Ready message while its reason and the shortfall are unchanged."""
    if not previous or not isinstance(previous.get("capacity"), Mapping):
        return None
    before = previous["capacity"]
    same = all(before.get(key) == fields.get(key) for key in ("shortfallProcessors", "shortfallMemoryBytes"))
    ready = c.previous_conditions(previous).get(c.READY)
    if same and ready is not None and ready.get("reason") == reason and isinstance(ready.get("message"), str):
        return str(ready["message"])
    return None


def apply(ctx: Context, view: View | None, status: dict[str, Any]) -> None:
    """Add ``vcpus`` and, when short and the numbers are known, ``capacity`` and Ready's capacity reason."""
    stats = _stats(view)
    cost = vcpus(stats)
    if cost is not None:
        status["vcpus"] = cost
    observation, verdict = ctx.observation, ctx.verdict
    verb = short_verb(observation, ctx.spec.deployment_id, ctx.ref.generation)
    facts = observation.capacity
    if verb is None or facts is None or observation.snapshot is None or verdict.ready is None:
        return
    found = assess_observed(_demand(ctx, stats, verb), observation.snapshot, facts.nodes, facts.limits)
    if found is None or not found.short:
        if facts.problem is not None:
            note = f"capacity numbers unavailable: {facts.problem}"
            verdict.ready = replace(verdict.ready, message=f"{verdict.ready.message}; {note}")
        return
    fields = status_fields(found)
    status["capacity"] = fields
    waiting = found.limiting == WAITING_FOR_SCALE_UP
    reason = WAITING_FOR_CAPACITY if waiting else INSUFFICIENT_CAPACITY
    text = f"Deployment [{ctx.spec.deployment_id}] {message(found, _VERBS.get(verb, verb))}"
    text = _kept_message(ctx.previous_status, reason, fields) or text
    verdict.ready = ConditionValue(c.FALSE, reason, text)
    verdict.warning = not waiting
    if waiting and verdict.progress is not None:
        verdict.progress = ConditionValue(c.TRUE, WAITING_FOR_CAPACITY, text)
