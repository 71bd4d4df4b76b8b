"""Start, update and stop as the transport actions run them (their checks in the order Elasticsearch runs them)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from esml_simulator.errors import EsError, no_deployment, no_model, status_exception, validation_failed
from esml_simulator.ml.cluster import MlCluster
from esml_simulator.ml.downloads import refuse_start_while_downloading
from esml_simulator.ml.models import cannot_deploy, is_wildcard
from esml_simulator.ml.state import MAX_DEPLOYMENTS, AdaptiveSettings, Deployment
from esml_simulator.units import ByteSize, TimeValue

WAIT_ORDER = {"starting": 0, "started": 1, "fully_allocated": 2}


@dataclass
class StartParams:
    model_id: str
    deployment_id: str
    number_of_allocations: int | None
    threads: int
    queue_capacity: int
    cache_size: ByteSize | None
    priority: str
    wait_for: str
    timeout: TimeValue
    adaptive: AdaptiveSettings | None


class Absent:
    """Marker: a field that was not sent (as opposed to an explicit ``null``)."""


ABSENT = Absent()
AdaptiveUpdate = dict[str, Any] | None | Absent


def start_checks(cluster: MlCluster, p: StartParams) -> Deployment:
    """Steps 2 to 11 of the start processing order; returns the created deployment."""
    if cluster.license not in ("platinum", "enterprise", "trial"):
        raise EsError(
            403,
            "security_exception",
            "current license is non-compliant for [ml]",
            extra={"license.expired.feature": "ml"},
        )
    if cluster.upgrade_in_progress:
        raise status_exception(
            403, f"Cannot start model deployment [{p.deployment_id}] while cluster upgrade is in progress."
        )
    if len(cluster.deployments) >= MAX_DEPLOYMENTS:
        raise status_exception(
            429,
            f"Could not start model deployment because existing deployments reached the limit of [{MAX_DEPLOYMENTS}]",
        )
    if p.deployment_id in cluster.deployments:
        raise status_exception(
            400,
            "Could not start model deployment because an existing deployment with the same id "
            f"[{p.deployment_id}] exist",
        )
    if cluster.inference.names(p.model_id):
        raise status_exception(
            400, f"Model IDs must be unique. Requested model ID [{p.model_id}] matches existing model IDs but must not."
        )
    if is_wildcard(p.model_id):
        hits = cluster.models.expand(p.model_id, allow_no_match=False)
        if len(hits) > 1:
            raise status_exception(
                400,
                f"cannot deploy more than one model at the same time; [{p.model_id}] matches models "
                f"[{', '.join(m.model_id for m in hits)}]",
            )
        model = hits[0]
    else:
        found = cluster.models.get(p.model_id)
        if found is None:
            raise no_model(p.model_id)
        model = found
    if model.model_type != "pytorch":
        raise cannot_deploy(model)
    refuse_start_while_downloading(model)
    if p.deployment_id != model.model_id and cluster.models.get(p.deployment_id) is not None:
        raise status_exception(
            400,
            f"Deployment id [{p.deployment_id}] is the same as an another model which is not the model being "
            "deployed. Deployment id can be the same as the model being deployed but cannot match a "
            "different model",
        )
    status = model.definition_status
    if status == "missing":
        raise EsError(
            404, "resource_not_found_exception", f"Could not find trained model definition [{model.model_id}]"
        )
    if status == "truncated":
        raise status_exception(
            400, f"Model definition truncated. Unable to deserialize trained model definition [{model.model_id}]"
        )
    if cluster.feature_reset_in_progress:
        raise status_exception(
            409,
            f"Cannot create new assignment [{p.deployment_id}] for model [{model.model_id}] while feature "
            "reset is in progress.",
        )
    return _create(cluster, p, model.model_id, model.size_bytes, model)


def _create(cluster: MlCluster, p: StartParams, model_id: str, size: int, model: Any) -> Deployment:
    from esml_simulator.ml.planner import place

    allocations = cluster.initial_allocations(p.number_of_allocations, p.adaptive)
    cache = p.cache_size if p.cache_size is not None else ByteSize.of_bytes(size)
    memory = model.required_native_memory(allocations) + max(0, cache.bytes - size)
    dep = Deployment(
        deployment_id=p.deployment_id,
        model_id=model_id,
        model_bytes=size,
        threads=p.threads,
        number_of_allocations=allocations,
        queue_capacity=p.queue_capacity,
        cache_size=cache,
        priority=p.priority,
        memory=memory,
        per_deployment_memory_bytes=model.per_deployment_memory_bytes,
        per_allocation_memory_bytes=model.per_allocation_memory_bytes,
        start_time=cluster.clock.now(),
        adaptive=p.adaptive,
    )
    dep.load.since = dep.start_time
    placement = place(cluster.nodes, list(cluster.deployments.values()), dep, allocations)
    if placement.placed < allocations and not cluster.scaling_possible:
        if placement.placed == 0:
            raise status_exception(
                429,
                "Could not start deployment because no ML nodes with sufficient capacity were found",
                caused_by={"type": "illegal_state_exception", "reason": placement.explanation or ""},
            )
        raise status_exception(
            429,
            "Could not start deployment because there are not enough resources to provide all requested allocations",
        )
    cluster.deployments[dep.deployment_id] = dep
    cluster.apply_additions(dep, placement.added)
    dep.reason = placement.explanation
    cluster.ensure_ticking()
    return dep


def update_checks(
    cluster: MlCluster,
    deployment_id: str,
    number: int | None,
    adaptive: AdaptiveUpdate,
    *,
    internal: bool = False,
    from_inference_api: bool = False,
) -> Deployment:
    """Steps 2 to 8 of the update processing order.

    ``internal``: the adaptive scaler (may set a count while adaptive is on);
    ``from_inference_api``: the inference ``_update`` (exempt from the 9.2 ownership 409).
    """
    owner = cluster.inference.owner_of(deployment_id)
    if owner is not None and cluster.version.endpoint_ownership_409 and not (internal or from_inference_api):
        raise status_exception(
            409,
            f"Cannot update deployment [{deployment_id}] as it was created by inference endpoint "
            f"[{owner.inference_id}]. This model deployment must be updated through the inference API.",
        )
    dep = cluster.deployments.get(deployment_id)
    if dep is None:
        raise no_deployment(deployment_id)
    merged = merge_adaptive(dep.adaptive, adaptive)
    if merged is not None:
        if merged.enabled and number is not None and not internal:
            raise validation_failed(
                ["[number_of_allocations] cannot be set if adaptive allocations is enabled"], "validation_exception"
            )
        errors = merged.validation_errors()
        if errors:
            raise validation_failed(errors)
    number_changes = number is not None and number != dep.number_of_allocations
    adaptive_changes = not isinstance(adaptive, Absent) and as_sent(adaptive) != dep.adaptive
    if not number_changes and not adaptive_changes:
        return dep
    if dep.state != "started":
        raise status_exception(409, "cannot update deployment that is not in [started] state")
    if number_changes and number is not None and cluster.set_allocations(dep, number) == "insufficient":
        raise status_exception(
            429,
            "Could not update deployment because there are not enough resources to provide all requested allocations",
        )
    if not isinstance(adaptive, Absent):
        dep.adaptive = merged
        cluster.ensure_ticking()
    return dep


def as_sent(adaptive: AdaptiveUpdate) -> AdaptiveSettings | str:
    if adaptive is None:
        return "RESET_PLACEHOLDER"
    assert isinstance(adaptive, dict)
    return AdaptiveSettings(
        adaptive.get("enabled"), adaptive.get("min_number_of_allocations"), adaptive.get("max_number_of_allocations")
    )


def merge_adaptive(stored: AdaptiveSettings | None, update: AdaptiveUpdate) -> AdaptiveSettings | None:
    if isinstance(update, Absent):
        return stored
    if update is None:
        return None
    merged = AdaptiveSettings(**vars(stored)) if stored is not None else AdaptiveSettings()
    if "enabled" in update:
        merged.enabled = update["enabled"]
    if "min_number_of_allocations" in update:
        merged.min = update["min_number_of_allocations"]
    if "max_number_of_allocations" in update:
        merged.max = update["max_number_of_allocations"]
    return merged


def stop_checks(cluster: MlCluster, deployment_id: str, allow_no_match: bool, force: bool) -> Deployment | None:
    """Exact-id lookup, refusals without ``force``, then the ``stopping`` transition."""
    dep = cluster.deployments.get(deployment_id)
    if dep is None:
        if allow_no_match:
            return None
        raise no_deployment(deployment_id)
    if not force:
        if cluster.version.stop_refuses_endpoint_deployments:
            endpoint_refusal(cluster, deployment_id)
        if cluster.pipeline_refs({deployment_id}):
            raise status_exception(
                409,
                f"Cannot stop deployment [{deployment_id}] as it is referenced by ingest processors; use force "
                "to stop the deployment",
            )
    if dep.state != "stopping":
        dep.state, dep.reason = "stopping", "client API call"
        for route in dep.routes.values():
            route.state, route.ready_at = "stopping", None
        dep.stop_at = cluster.clock.now() + cluster.settings.stop_delay
    cluster.advance()
    return dep


def endpoint_refusal(cluster: MlCluster, deployment_id: str) -> None:
    """PR 129325: a deployment that an inference endpoint created or uses is stopped only with ``force``.

    The status (409) and the text after the endpoint id are simulator choices (UNCONFIRMED by the reference).
    """
    owner = cluster.inference.owner_of(deployment_id)
    users = cluster.inference.users_of(deployment_id)
    if owner is not None:
        verb, endpoint_id = "was created by", owner.inference_id
    elif users:
        verb, endpoint_id = "is used by", users[0].inference_id
    else:
        return
    raise status_exception(
        409,
        f"Cannot stop deployment [{deployment_id}] as it {verb} inference endpoint [{endpoint_id}]; "
        "use force to stop the deployment",
    )


def validate_update(number: int | None, adaptive: AdaptiveUpdate) -> None:
    errors: list[str] = []
    if number is not None:
        if number < 1:
            errors.append("[number_of_allocations] must be a positive integer")
        if isinstance(adaptive, dict) and adaptive.get("enabled") is True:
            errors.append("[number_of_allocations] cannot be set if adaptive allocations is enabled")
    if isinstance(adaptive, dict):
        sent = AdaptiveSettings(
            adaptive.get("enabled"),
            adaptive.get("min_number_of_allocations"),
            adaptive.get("max_number_of_allocations"),
        )
        errors.extend(sent.validation_errors())
    if errors:
        raise validation_failed(errors)
