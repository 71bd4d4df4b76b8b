"""The freshest known view of one deployment: the snapshot, or the operator's own last change.

A ``_stats`` snapshot taken before the operator's last successful change does
not show that change. Then the ``assignment`` that ``_start``/``_update``
returned is newer than the snapshot and is used instead (converted to the
shape ``_stats`` has); after a ``_stop`` (which returns no assignment) nothing
newer is known and the view is :data:`AWAITING` until the next poll.
"""

from __future__ import annotations

import enum
from dataclasses import replace
from datetime import datetime
from typing import Final, Literal

from esml_operator.elasticsearch.models import AllocationStatus, Assignment, DeploymentStats, NodeRoute

from .model import Observation
from .timeutil import as_utc


class _Awaiting(enum.Enum):
    AWAITING = "AWAITING"


#: No trustworthy view: the last change is newer than the snapshot and returned no assignment.
AWAITING: Final = _Awaiting.AWAITING
View = DeploymentStats | None | Literal[_Awaiting.AWAITING]


def _epoch_millis(text: str | None) -> int | None:
    if not text:
        return None
    try:
        return int(datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp() * 1000)
    except ValueError:
        return None


def allocation_from_routes(assignment: Assignment) -> AllocationStatus:
    """Elasticsearch's rule: fully allocated once started allocations reach the target, started once any run."""
    target = assignment.task_parameters.number_of_allocations
    count = sum(
        route.current_allocations or 0 for route in assignment.routing_table if route.routing_state == "started"
    )
    state = "fully_allocated" if count >= target else "started" if count > 0 else "starting"
    return AllocationStatus(allocation_count=count, target_allocation_count=target, state=state)


def stats_from_assignment(assignment: Assignment, seen: DeploymentStats | None) -> DeploymentStats:
    """The ``_stats`` shape of a ``_start``/``_update`` answer; node names come from the last poll."""
    params = assignment.task_parameters
    names = {route.node_id: route.node_name for route in seen.nodes} if seen is not None else {}
    routes = tuple(
        route if route.node_name is not None else _named(route, names.get(route.node_id))
        for route in assignment.routing_table
    )
    return DeploymentStats(
        deployment_id=params.deployment_id,
        model_id=params.model_id,
        state=assignment.assignment_state,
        reason=assignment.reason,
        allocation_status=allocation_from_routes(assignment),
        number_of_allocations=params.number_of_allocations,
        threads_per_allocation=params.threads_per_allocation,
        queue_capacity=params.queue_capacity,
        cache_size=seen.cache_size if seen is not None else params.cache_size,
        priority=params.priority,
        start_time_ms=_epoch_millis(assignment.start_time) or (seen.start_time_ms if seen is not None else None),
        adaptive_allocations=assignment.adaptive_allocations,
        nodes=routes,
    )


def _named(route: NodeRoute, name: str | None) -> NodeRoute:
    return replace(route, node_name=name)


def current_view(observation: Observation, deployment_id: str) -> View:
    """The deployment as best known now (``None``: it does not exist). Needs a snapshot."""
    snapshot = observation.snapshot
    assert snapshot is not None
    seen = snapshot.deployments.get(deployment_id)
    recent = observation.recent
    if recent is None or observation.snapshot_at is None or as_utc(observation.snapshot_at) >= as_utc(recent.at):
        return seen
    if recent.assignment is None or recent.assignment.task_parameters.deployment_id != deployment_id:
        return AWAITING
    return stats_from_assignment(recent.assignment, seen)
