"""Deployments that an inference endpoint created (ELSER, E5, ``semantic_text``): what changes for them.

Elasticsearch stores no ownership; it infers it from the ids: the endpoint
whose inference id is the deployment id created it (INFERENCE_ENDPOINTS fact
sheet, section 1). For such a deployment:

* from 9.2 the trained-model ``_update`` answers 409, so count and adaptive
  changes go through the endpoint (:class:`~.model.UpdateInferenceEndpoint`);
  before 9.2 the trained-model ``_update`` still works and is kept;
* it cannot be restarted by the operator (a non-forced ``_stop`` is refused, a
  forced one breaks the endpoint), so start-time fields that differ and
  ``numberOfAllocations: 0`` without adaptive allocations are refused with a
  condition and no call;
* it is never started by the operator: Elasticsearch deploys it when the
  endpoint is first used;
* ``deletionPolicy: Stop`` leaves it running (and never deletes the endpoint).
  The same holds for an ordinary deployment that endpoints are attached to.

Everything here is pure.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from esml_operator.elasticsearch.models import ClusterInfo, ClusterSnapshot, DeploymentStats, InferenceEndpoint

from .model import Event, Observation, UpdateDeployment, UpdateInferenceEndpoint
from .plan import start_parameter_differences
from .spec import ModelDeploymentSpec, SpecError

#: Since this version the trained-model ``_update`` of an endpoint's own deployment is a 409 (PR 130940).
TRAINED_MODEL_UPDATE_REFUSED_SINCE = (9, 2)
ENDPOINT_NOT_DEPLOYED = "EndpointNotDeployed"
ENDPOINT_PARAMETERS_DIFFER = "EndpointParametersDiffer"
ENDPOINT_CANNOT_SCALE_TO_ZERO = "EndpointCannotScaleToZero"
USED_BY_INFERENCE_ENDPOINT = "DeploymentUsedByInferenceEndpoint"
STOP_SKIPPED = "StopSkippedForInferenceEndpoint"


def ownership(
    snapshot: ClusterSnapshot | None, deployment_id: str
) -> tuple[InferenceEndpoint | None, tuple[str, ...], str | None]:
    """(the endpoint that created ``deployment_id``, ids of endpoints attached to it, why unknown)."""
    listing = snapshot.inference if snapshot is not None else None
    if listing is None:
        return None, (), None
    if not listing.known:
        return None, (), listing.problem
    owner = listing.owner_of(deployment_id)
    return owner, tuple(e.inference_id for e in listing.attached_to(deployment_id)), None


def through_endpoint(cluster: ClusterInfo | None) -> bool:
    """Whether an endpoint's own deployment must be changed through the inference ``_update`` (9.2+)."""
    return cluster is not None and cluster.version.at_least(*TRAINED_MODEL_UPDATE_REFUSED_SINCE)


def route_update(update: UpdateDeployment, observation: Observation) -> UpdateDeployment | UpdateInferenceEndpoint:
    """The call that makes ``update``: the endpoint's ``_update`` where the trained-model one would be a 409."""
    endpoint = observation.inference_endpoint
    if endpoint is None or not through_endpoint(observation.cluster):
        return update
    return UpdateInferenceEndpoint(inference_id=endpoint.inference_id, task_type=endpoint.task_type, update=update)


def step_through(
    routed: UpdateDeployment | UpdateInferenceEndpoint, observation: Observation
) -> UpdateDeployment | UpdateInferenceEndpoint:
    """Go through another count when the same endpoint ``_update`` was just sent and changed nothing.

    From 9.2 Elasticsearch answers an endpoint ``_update`` that leaves the endpoint's *stored* configuration
    unchanged with 200 and no trained-model call. The stored count goes stale when the deployment was changed
    with the trained-model ``_update`` (the operator does that before 9.2; so an upgrade leaves it stale). The
    evidence: the operator's last change was this very update, from this very count, and a poll newer than it
    still shows that count. Then the count is sent through a value the deployment does not have (one call
    more), after which the spec's count is a real change again.
    """
    if not isinstance(routed, UpdateInferenceEndpoint):
        return routed
    update, recent = routed.update, observation.recent
    last = recent.action if recent is not None else None
    wanted, live = update.number_of_allocations, update.from_number_of_allocations
    if (
        wanted is None
        or update.send_adaptive
        or not isinstance(last, UpdateInferenceEndpoint)
        or last.update.send_adaptive
        or (last.update.number_of_allocations, last.update.from_number_of_allocations) != (wanted, live)
    ):
        return routed
    via = next(n for n in (wanted - 1, wanted + 1, wanted + 2) if n >= 1 and n != live)
    return replace(routed, update=replace(update, number_of_allocations=via), stepping_to=wanted)


def describe_endpoint(endpoint: InferenceEndpoint) -> str:
    """``inference endpoint [my-elser] (sparse_embedding, service elasticsearch)``."""
    return f"inference endpoint [{endpoint.inference_id}] ({endpoint.task_type}, service {endpoint.service})"


def endpoint_status(endpoint: InferenceEndpoint) -> dict[str, Any]:
    """``status.inferenceEndpoint``."""
    return {"id": endpoint.inference_id, "taskType": endpoint.task_type, "service": endpoint.service}


def endpoint_refusals(spec: ModelDeploymentSpec, stats: DeploymentStats, endpoint: InferenceEndpoint) -> list[str]:
    """Start-time fields the spec sets that the endpoint's running deployment does not have.

    The endpoint chose them when Elasticsearch started the deployment (threads
    from ``num_threads``, the ML defaults for the rest); they change only by
    recreating the endpoint.
    """
    differences = []
    threads = stats.threads_per_allocation or endpoint.service_settings.num_threads
    if spec.threads_per_allocation is not None and threads is not None and spec.threads_per_allocation != threads:
        differences.append(
            f"threadsPerAllocation {spec.threads_per_allocation} (the endpoint's num_threads: {threads})"
        )
    return differences + start_parameter_differences(replace(spec, threads_per_allocation=None), stats)


def refusal_message(deployment_id: str, endpoint: InferenceEndpoint, differences: list[str]) -> str:
    return (
        f"Deployment [{deployment_id}] was created by {describe_endpoint(endpoint)} and cannot take "
        f"{'; '.join(differences)}: the operator does not restart an endpoint's deployment (that would break "
        "the endpoint). Remove these fields from the spec or set them to the running values, or recreate the "
        "endpoint with the values you want"
    )


def zero_refusal(deployment_id: str, endpoint: InferenceEndpoint | None, users: tuple[str, ...]) -> tuple[str, str]:
    """(reason, message) for ``numberOfAllocations: 0`` on a deployment that endpoints need."""
    if endpoint is not None:
        return ENDPOINT_CANNOT_SCALE_TO_ZERO, (
            f"numberOfAllocations 0 cannot be applied: deployment [{deployment_id}] was created by "
            f"{describe_endpoint(endpoint)}, which Elasticsearch keeps deployed (stopping it would break the "
            "endpoint, and its first use would start it again). To scale to zero when idle, enable "
            "adaptiveAllocations with minNumberOfAllocations: 0; nothing was changed"
        )
    return USED_BY_INFERENCE_ENDPOINT, (
        f"numberOfAllocations 0 cannot be applied: deployment [{deployment_id}] is used by inference "
        f"endpoint(s) [{', '.join(users)}], and stopping it would break them. Delete those endpoints first, or "
        "scale to 1 or more; nothing was changed"
    )


def not_deployed_message(spec: ModelDeploymentSpec, endpoint: InferenceEndpoint) -> str:
    model = endpoint.service_settings.model_id
    of_model = f" of model [{model}]" if model else ""
    return (
        f"Deployment [{spec.deployment_id}]{of_model} belongs to {describe_endpoint(endpoint)} and is not "
        "running. Elasticsearch deploys it on the endpoint's first use (an inference call or a semantic_text "
        "ingest); the operator never starts an endpoint's deployment, and manages it once it runs"
    )


def unknown_note(problem: str) -> str:
    return (
        f"whether an inference endpoint owns the deployment is unknown ({problem}); the trained-model APIs are "
        "used. Grant monitor_inference (or monitor) to detect ELSER/E5 endpoint deployments"
    )


def deletion_notice(spec: ModelDeploymentSpec | SpecError, observation: Observation) -> Event | None:
    """The event for a ``deletionPolicy: Stop`` deletion that leaves the deployment running because inference
    endpoints created or use it (``None`` otherwise). The deletion then completes without a call."""
    if isinstance(spec, SpecError) or spec.deletion_policy != "Stop" or spec.paused:
        return None
    endpoint, users = observation.inference_endpoint, observation.inference_users
    if endpoint is not None:
        why = f"it was created by {describe_endpoint(endpoint)}"
    elif users:
        why = f"inference endpoint(s) [{', '.join(users)}] use it"
    else:
        return None
    return Event(
        "Warning",
        STOP_SKIPPED,
        f"Deployment [{spec.deployment_id}] was left running despite deletionPolicy: Stop: {why}. The operator "
        "never deletes inference endpoints and never force-stops a deployment they need; delete the endpoint "
        "(DELETE _inference/...) to remove it",
    )


def stop_refused_notice(deployment_id: str, reason: str) -> Event:
    """The event when Elasticsearch refused the stop because an endpoint needs the deployment (a 409)."""
    return Event(
        "Warning",
        STOP_SKIPPED,
        f"Deployment [{deployment_id}] was left running despite deletionPolicy: Stop: Elasticsearch refused to "
        f"stop it ({reason}). The operator never force-stops a deployment that inference endpoints need",
    )
