"""What would bring Elasticsearch to the spec, ignoring whether it may be done now."""

from __future__ import annotations

from esml_operator.elasticsearch.models import AdaptiveAllocations, DeploymentStats

from .bytesize import same_byte_size
from .model import StartDeployment, UpdateDeployment
from .spec import ModelDeploymentSpec
from .status import running_allocations


def desired_adaptive(spec: ModelDeploymentSpec) -> AdaptiveAllocations | None:
    """The adaptive settings the spec asks for, ``None`` when adaptive is not enabled."""
    if spec.adaptive is None or not spec.adaptive.enabled:
        return None
    return AdaptiveAllocations(
        enabled=True,
        min_number_of_allocations=spec.adaptive.min_number_of_allocations,
        max_number_of_allocations=spec.adaptive.max_number_of_allocations,
    )


def start_action(spec: ModelDeploymentSpec) -> StartDeployment:
    adaptive = desired_adaptive(spec)
    return StartDeployment(
        model_id=spec.model_id,
        deployment_id=spec.deployment_id,
        number_of_allocations=None if adaptive is not None else spec.number_of_allocations,
        threads_per_allocation=spec.threads_per_allocation,
        queue_capacity=spec.queue_capacity,
        priority=spec.priority,
        cache_size=spec.cache_size,
        adaptive=adaptive,
    )


def is_noop(update: UpdateDeployment, stats: DeploymentStats) -> bool:
    """Whether Elasticsearch already has what the update would send."""
    count_same = update.number_of_allocations is None or update.number_of_allocations == running_allocations(stats)
    adaptive_same = not update.send_adaptive or update.adaptive == stats.adaptive_allocations
    return count_same and adaptive_same


def plan_update(spec: ModelDeploymentSpec, stats: DeploymentStats) -> UpdateDeployment | None:
    """The ``_update`` that makes an existing deployment match the spec, or ``None``.

    * adaptive in the spec: Elasticsearch owns the count; only the adaptive
      settings are compared and sent (never ``number_of_allocations``);
    * fixed in the spec, adaptive enabled in Elasticsearch: send the count and
      ``{"enabled": false}`` together (as Kibana does);
    * fixed in both: send the count when ``number_of_allocations`` differs.
      Allocations lost with a node do not change ``number_of_allocations`` and
      are not divergence: Elasticsearch re-allocates them itself.
    """
    current = running_allocations(stats)
    observed_adaptive = stats.adaptive_allocations
    wanted_adaptive = desired_adaptive(spec)
    update: UpdateDeployment | None = None
    if wanted_adaptive is not None:
        if observed_adaptive != wanted_adaptive:
            update = UpdateDeployment(
                deployment_id=spec.deployment_id,
                number_of_allocations=None,
                adaptive=wanted_adaptive,
                send_adaptive=True,
                from_number_of_allocations=current,
                from_adaptive=observed_adaptive,
            )
    elif observed_adaptive is not None and observed_adaptive.enabled:
        update = UpdateDeployment(
            deployment_id=spec.deployment_id,
            number_of_allocations=spec.number_of_allocations,
            adaptive=AdaptiveAllocations(enabled=False),
            send_adaptive=True,
            from_number_of_allocations=current,
            from_adaptive=observed_adaptive,
        )
    elif current is not None and current != spec.number_of_allocations:
        update = UpdateDeployment(
            deployment_id=spec.deployment_id,
            number_of_allocations=spec.number_of_allocations,
            adaptive=None,
            send_adaptive=False,
            from_number_of_allocations=current,
        )
    if update is not None and is_noop(update, stats):
        return None
    return update


def describe_adaptive(adaptive: AdaptiveAllocations | None) -> str:
    if adaptive is None:
        return "none"
    if not adaptive.enabled:
        return "disabled"
    bounds = []
    if adaptive.min_number_of_allocations is not None:
        bounds.append(f"min {adaptive.min_number_of_allocations}")
    if adaptive.max_number_of_allocations is not None:
        bounds.append(f"max {adaptive.max_number_of_allocations}")
    return "enabled" + (f" ({', '.join(bounds)})" if bounds else "")


def describe_update(update: UpdateDeployment) -> str:
    """``number_of_allocations 1 -> 4`` / ``adaptive_allocations none -> enabled (min 0, max 4)``."""
    parts = []
    if update.number_of_allocations is not None and update.number_of_allocations != (update.from_number_of_allocations):
        before = "?" if update.from_number_of_allocations is None else str(update.from_number_of_allocations)
        parts.append(f"number_of_allocations {before} -> {update.number_of_allocations}")
    if update.send_adaptive:
        parts.append(
            f"adaptive_allocations {describe_adaptive(update.from_adaptive)} -> {describe_adaptive(update.adaptive)}"
        )
    return ", ".join(parts)


def start_parameter_differences(spec: ModelDeploymentSpec, stats: DeploymentStats) -> list[str]:
    """Start-time fields the spec sets that differ from the running deployment.

    Fields the spec leaves unset, or that ``_stats`` does not report, are not compared.
    """
    differences = []
    if (
        spec.threads_per_allocation is not None
        and stats.threads_per_allocation is not None
        and spec.threads_per_allocation != stats.threads_per_allocation
    ):
        differences.append(
            f"threadsPerAllocation {spec.threads_per_allocation} (running: {stats.threads_per_allocation})"
        )
    if (
        spec.queue_capacity is not None
        and stats.queue_capacity is not None
        and spec.queue_capacity != stats.queue_capacity
    ):
        differences.append(f"queueCapacity {spec.queue_capacity} (running: {stats.queue_capacity})")
    if spec.priority is not None and spec.priority != stats.priority:
        differences.append(f"priority {spec.priority} (running: {stats.priority})")
    if (
        spec.cache_size is not None
        and stats.cache_size is not None
        and not same_byte_size(spec.cache_size, stats.cache_size)
    ):
        differences.append(f"cacheSize {spec.cache_size} (running: {stats.cache_size})")
    return differences


def describe_difference(update: UpdateDeployment) -> str:
    parts = []
    if update.number_of_allocations is not None and update.number_of_allocations != (update.from_number_of_allocations):
        parts.append(
            f"number_of_allocations {update.from_number_of_allocations}, the spec wants {update.number_of_allocations}"
        )
    if update.send_adaptive:
        parts.append(
            f"adaptive allocations {describe_adaptive(update.from_adaptive)}, "
            f"the spec wants {describe_adaptive(update.adaptive)}"
        )
    return " and ".join(parts)
