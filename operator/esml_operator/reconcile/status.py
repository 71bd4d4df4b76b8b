"""The Elasticsearch-derived part of ``.status``.

Rebuilt from the observation on every pass; when nothing could be observed the
last known values are carried over from the previous status.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from esml_operator.elasticsearch.models import AdaptiveAllocations, Assignment, DeploymentStats

from .spec import ModelDeploymentSpec
from .timeutil import format_epoch_millis, format_time

#: Keys describing the deployment as Elasticsearch last reported it.
DEPLOYMENT_KEYS = (
    "assignmentState",
    "allocations",
    "targetAllocations",
    "allocationState",
    "routingTable",
    "taskParameters",
    "adaptiveAllocations",
    "startTime",
)
#: Keys kept from the previous status when nothing new was observed (``inferenceEndpoint``: the endpoint
#: that created the deployment, see :mod:`.endpoints`).
OBSERVED_KEYS = (*DEPLOYMENT_KEYS, "inferenceEndpoint", "lastSyncTime", "elasticsearchVersion")


def running_allocations(stats: DeploymentStats) -> int | None:
    """``number_of_allocations`` as Elasticsearch has it (the target, not what is running)."""
    if stats.number_of_allocations is not None:
        return stats.number_of_allocations
    if stats.allocation_status is not None:
        return stats.allocation_status.target_allocation_count
    return None


def _without_none(values: Mapping[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in values.items() if value is not None}


def adaptive_status(adaptive: AdaptiveAllocations | None) -> dict[str, Any] | None:
    if adaptive is None:
        return None
    return _without_none(
        {
            "enabled": adaptive.enabled,
            "minNumberOfAllocations": adaptive.min_number_of_allocations,
            "maxNumberOfAllocations": adaptive.max_number_of_allocations,
        }
    )


def _previous_targets(stats: DeploymentStats, previous: Mapping[str, Any] | None) -> dict[str, int | None]:
    """Per-node targets the previous status recorded, while the deployment's count is unchanged."""
    if not previous:
        return {}
    params = previous.get("taskParameters")
    routes = previous.get("routingTable")
    if not isinstance(params, Mapping) or not isinstance(routes, list):
        return {}
    if params.get("deploymentId") != stats.deployment_id:
        return {}
    if params.get("numberOfAllocations") != running_allocations(stats):
        return {}
    return {
        str(route["node"]): route["targetAllocations"]
        for route in routes
        if isinstance(route, Mapping) and "node" in route and isinstance(route.get("targetAllocations"), int)
    }


def routing_table(
    stats: DeploymentStats, last_assignment: Assignment | None, previous: Mapping[str, Any] | None = None
) -> list[dict[str, Any]]:
    """Routes from ``_stats``, sorted by node id. ``_stats`` has no per-node targets: they come from the last
    ``_start``/``_update`` answer, else from the previous status, only while the deployment's count still agrees
    (so a restarted operator reports, and writes, the same table)."""
    targets: dict[str, int | None] = {}
    if (
        last_assignment is not None
        and last_assignment.task_parameters.deployment_id == stats.deployment_id
        and last_assignment.task_parameters.number_of_allocations == running_allocations(stats)
    ):
        targets = {route.node_id: route.target_allocations for route in last_assignment.routing_table}
    else:
        targets = _previous_targets(stats, previous)
    return [
        _without_none(
            {
                "node": route.node_id,
                "nodeName": route.node_name,
                "currentAllocations": route.current_allocations,
                "targetAllocations": targets.get(route.node_id, route.target_allocations),
                "routingState": route.routing_state,
                "reason": route.reason,
            }
        )
        for route in sorted(stats.nodes, key=lambda route: route.node_id)
    ]


#: What Elasticsearch's adaptive scaler applies for a bound that is not set: no minimum (it scales down to
#: one allocation under load, and to zero after a period without requests, as with a minimum of 0) and, as a
#: safeguard, no more than 32 allocations unless the minimum is higher.
ADAPTIVE_MIN_DEFAULT = 0
ADAPTIVE_MAX_DEFAULT = 32


def _bound(spec_value: int | None, observed: Mapping[str, Any] | None, key: str, default: int) -> int:
    """The spec's bound; else the one Elasticsearch reports (it keeps a stored bound that an update omits);
    else Elasticsearch's default."""
    if spec_value is not None:
        return spec_value
    reported = observed.get(key) if observed is not None and observed.get("enabled") is True else None
    return reported if isinstance(reported, int) and not isinstance(reported, bool) else default


def desired_allocations(spec: ModelDeploymentSpec, observed_adaptive: Mapping[str, Any] | None = None) -> str:
    """The ``DESIRED`` column: the count, or ``adaptive MIN-MAX`` (the bounds that apply) while Elasticsearch
    owns the count. ``observed_adaptive``: ``status.adaptiveAllocations``, as last reported."""
    adaptive = spec.adaptive
    if adaptive is None or not adaptive.enabled:
        return str(spec.number_of_allocations)
    low = _bound(adaptive.min_number_of_allocations, observed_adaptive, "minNumberOfAllocations", ADAPTIVE_MIN_DEFAULT)
    # The safeguard yields to a larger minimum: Elasticsearch applies the minimum after it.
    default_high = max(ADAPTIVE_MAX_DEFAULT, low)
    high = _bound(adaptive.max_number_of_allocations, observed_adaptive, "maxNumberOfAllocations", default_high)
    return f"adaptive {low}-{high}"


def deployment_status(
    stats: DeploymentStats | None, last_assignment: Assignment | None, previous: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """The deployment keys for an observed deployment; none when it does not exist (``ALLOCATED`` is then
    blank, and ``/scale`` reads 0)."""
    if stats is None:
        return {}
    allocation = stats.allocation_status
    return _without_none(
        {
            "assignmentState": stats.state,
            "allocations": allocation.allocation_count if allocation else None,
            "targetAllocations": allocation.target_allocation_count if allocation else None,
            "allocationState": allocation.state if allocation else None,
            "routingTable": routing_table(stats, last_assignment, previous),
            "taskParameters": _without_none(
                {
                    "modelId": stats.model_id,
                    "deploymentId": stats.deployment_id,
                    "numberOfAllocations": stats.number_of_allocations,
                    "threadsPerAllocation": stats.threads_per_allocation,
                    "queueCapacity": stats.queue_capacity,
                    "priority": stats.priority,
                    "cacheSize": stats.cache_size,
                }
            ),
            "adaptiveAllocations": adaptive_status(stats.adaptive_allocations),
            "startTime": format_epoch_millis(stats.start_time_ms) if stats.start_time_ms is not None else None,
        }
    )


def carried(previous: Mapping[str, Any] | None, keys: tuple[str, ...]) -> dict[str, Any]:
    """The given keys of the previous status (those present)."""
    if not previous:
        return {}
    return {key: previous[key] for key in keys if previous.get(key) is not None}


def with_action_applied(status: Mapping[str, Any], now: datetime) -> dict[str, Any]:
    """A copy of ``status`` recording that the operator changed Elasticsearch at ``now``
    (:func:`~.outcome.settle` applies it after an action succeeded)."""
    return {**status, "lastUpdateTime": format_time(now)}
