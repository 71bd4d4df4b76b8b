"""``decide``: spec + observation + time -> actions + the complete new status.

Checks run from the most fundamental problem to the least; the first finding
sets ``Ready`` (see :class:`~.conditions.Verdict`). Nothing here does I/O or
reads the clock: ``now`` and ``jitter`` are inputs. ``jitter`` should be drawn
once per recorded failure (not per call), so that the retry moment of a
failure does not move between passes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime
from typing import Any

from esml_operator.elasticsearch.errors import ApiError, ConnectionConfigError, ElasticsearchError
from esml_operator.elasticsearch.models import ClusterInfo, DeploymentStats

from . import conditions as c
from . import endpoints as ep
from . import shortfall
from .autoscaling import autoscaler_condition, autoscaler_conditions, surface_on_ready
from .backoff import UNSUPPORTED_VERSION, advise, error_reason
from .conditions import ConditionValue, Verdict
from .gate import AWAIT_REQUEUE_SECONDS, PROGRESS_REQUEUE_SECONDS, Context, gate
from .model import (
    Action,
    Decision,
    Event,
    Observation,
    ResourceRef,
    Settle,
    StopDeployment,
    UpdateDeployment,
    UpdateInferenceEndpoint,
)
from .observed import AWAITING, View, current_view
from .plan import (
    describe_adaptive,
    describe_difference,
    describe_update,
    plan_update,
    start_action,
    start_parameter_differences,
)
from .spec import ModelDeploymentSpec, SpecError
from .status import OBSERVED_KEYS, carried, deployment_status, desired_allocations
from .timeutil import as_utc, format_time

#: Ready's reason while a deployment is deliberately stopped by ``numberOfAllocations: 0``.
SCALED_TO_ZERO = "ScaledToZero"


def decide(
    spec: ModelDeploymentSpec | SpecError,
    ref: ResourceRef,
    observation: Observation,
    previous_status: Mapping[str, Any] | None,
    now: datetime,
    *,
    resync_interval: float,
    jitter: float,
) -> Decision:
    """Plan the actions and compute the complete new status for one resource (``spec`` as parsed, or its error)."""
    now = as_utc(now)
    verdict = Verdict()
    status: dict[str, Any] = {"observedGeneration": ref.generation}
    actions: list[Action] = []
    paused = False
    reachable = reachability(observation)
    settle: Settle | None = None
    if isinstance(spec, SpecError):
        message = f"Invalid spec: {spec.message}"
        verdict.not_ready(spec.reason, message, warning=True)
        verdict.stalled(spec.reason, message)
        status.update(_observed_fields(AWAITING, observation, previous_status))
    else:
        paused = spec.paused
        view = _view(spec, observation)
        context = Context(spec, ref, observation, previous_status, now, resync_interval, jitter, verdict)
        observed = _observed_fields(view, observation, previous_status)
        status["desiredAllocations"] = desired_allocations(spec, observed.get("adaptiveAllocations"))
        status.update(observed)
        action = _assess(context, view)
        shortfall.apply(context, view, status)
        if observation.inference_unknown is not None and verdict.ready is not None:
            note = ep.unknown_note(observation.inference_unknown)
            verdict.ready = replace(verdict.ready, message=f"{verdict.ready.message}; {note}")
        if action is not None:
            actions.append(action)
            settle = Settle(spec, ref, observation, previous_status, resync_interval, jitter)
    status.update(carried(previous_status, ("lastUpdateTime",)))
    status["selector"] = observation.selector
    conflict = autoscaler_condition(spec, observation.autoscalers)
    surface_on_ready(verdict, conflict)
    conditions, events = render_conditions(verdict, previous_status, now, ref.generation, paused, reachable)
    extra, extra_events = autoscaler_conditions(conflict, previous_status, now, ref.generation)
    status["conditions"] = conditions + extra
    events += extra_events
    return Decision(
        actions=tuple(actions),
        status=status,
        events=events,
        requeue_after=bounded_requeue(verdict, resync_interval),
        settle=settle,
    )


def render_conditions(
    verdict: Verdict,
    previous_status: Mapping[str, Any] | None,
    now: datetime,
    generation: int,
    paused: bool,
    reachable: ConditionValue,
) -> tuple[list[dict[str, Any]], tuple[Event, ...]]:
    """The four conditions for ``verdict`` and the events their transitions deserve."""
    previous = c.previous_conditions(previous_status)
    values = c.resolve(verdict, paused=paused, reachable=reachable)
    conditions = c.render(values, previous, now, generation)
    return conditions, c.transition_events(conditions, previous, warning=verdict.warning)


def bounded_requeue(verdict: Verdict, resync_interval: float) -> float | None:
    """``None`` when the resync loop comes soon enough."""
    requeue = verdict.requeue_after
    return None if requeue is not None and requeue >= resync_interval else requeue


def _view(spec: ModelDeploymentSpec, observation: Observation) -> View | None:
    """The deployment's freshest view, or ``None`` when nothing usable was observed."""
    return current_view(observation, spec.deployment_id) if _observed(observation) else None


def decide_deletion(spec: ModelDeploymentSpec | SpecError, observation: Observation) -> tuple[Action, ...]:
    """The actions for a resource being deleted: stop iff ``deletionPolicy: Stop`` and the deployment exists.

    When the deployment's existence is unknown (no snapshot) the stop is planned
    anyway (``_stop`` with ``allow_no_match`` succeeds for an unknown id), so a
    finalizer never releases a deployment it should have stopped. Nothing is
    stopped while paused, for an invalid spec, or when the deployment with that
    id belongs to a different model, nor one that inference endpoints created or use
    (see :func:`.endpoints.deletion_notice`). A deployment the operator started or updated
    (``last_assignment``) is stopped even if the snapshot predates it.
    """
    if isinstance(spec, SpecError) or spec.deletion_policy != "Stop" or spec.paused:
        return ()
    if ep.deletion_notice(spec, observation) is not None:
        return ()  # inference endpoints need the deployment: it is left running
    snapshot = observation.snapshot
    if snapshot is not None and observation.fetch_error is None:
        stats = snapshot.deployments.get(spec.deployment_id)
        if stats is not None and stats.model_id != spec.model_id:
            return ()
        started_here = observation.last_assignment is not None and (
            observation.last_assignment.task_parameters.deployment_id == spec.deployment_id
        )
        # A deployment started after the snapshot was taken is stopped too.
        if stats is None and not started_here:
            return ()
    return (StopDeployment(deployment_id=spec.deployment_id),)


def _observed(observation: Observation) -> bool:
    return observation.snapshot is not None and observation.fetch_error is None and observation.config_problem is None


def _observed_fields(
    view: View | None, observation: Observation, previous_status: Mapping[str, Any] | None
) -> dict[str, Any]:
    """Elasticsearch's view of the deployment; the previous values while nothing newer is known
    (:data:`AWAITING`, also used when the spec cannot even name the deployment)."""
    fields = carried(previous_status, OBSERVED_KEYS)
    if _observed(observation) and view is not AWAITING:
        for key in OBSERVED_KEYS:
            fields.pop(key, None)
        fields.update(deployment_status(view, observation.last_assignment, previous_status))
        if observation.inference_endpoint is not None:
            fields["inferenceEndpoint"] = ep.endpoint_status(observation.inference_endpoint)
        if observation.snapshot_at is not None:
            fields["lastSyncTime"] = format_time(observation.snapshot_at)
    if observation.cluster is not None and observation.config_problem is None:
        fields["elasticsearchVersion"] = str(observation.cluster.version)
    return fields


def reachability(observation: Observation) -> ConditionValue:
    """``ElasticsearchReachable`` as this observation shows it (what was contacted, and what answered)."""
    problem = observation.config_problem
    if problem is not None and observation.cluster is not None:
        # Connected (the cluster's identity is known), then stopped short of the deployment (DeploymentConflict).
        return ConditionValue(
            c.TRUE,
            "Connected",
            f"{_connected(observation.cluster)}; the deployment was neither polled nor changed: {problem.message}",
        )
    if problem is not None:
        return ConditionValue(c.UNKNOWN, problem.reason, f"Not connecting: {problem.message}")
    if observation.fetch_error is not None:
        error = observation.fetch_error
        if isinstance(error, ConnectionConfigError):
            return ConditionValue(c.UNKNOWN, error_reason(error), f"Not connecting: {error.message}")
        if isinstance(error, ApiError) and error.status is not None and error.status < 500:
            # It answered: reachable, but refusing (401/403/...). Ready and Stalled carry the refusal.
            return ConditionValue(c.TRUE, "Answered", f"Elasticsearch answered but refused: {error.message}")
        return ConditionValue(c.FALSE, error_reason(error), error.message)
    if observation.cluster is not None:
        return ConditionValue(c.TRUE, "Connected", _connected(observation.cluster))
    if observation.snapshot is not None:
        return ConditionValue(c.TRUE, "Connected", "Polled Elasticsearch")
    return ConditionValue(c.UNKNOWN, "NotYetConnected", "Elasticsearch has not been contacted yet")


def _connected(cluster: ClusterInfo) -> str:
    name = f" (cluster {cluster.cluster_name})" if cluster.cluster_name else ""
    return f"Connected to Elasticsearch {cluster.version}{name}"


def _assess(ctx: Context, view: View | None) -> Action | None:
    spec, observation, verdict = ctx.spec, ctx.observation, ctx.verdict
    if observation.config_problem is not None:
        problem = observation.config_problem
        verdict.not_ready(problem.reason, problem.message, warning=True)
        verdict.stalled(problem.reason, problem.message)
        return None
    if observation.fetch_error is not None:
        _poll_failed(ctx, observation.fetch_error)
        return None
    if observation.snapshot is None:
        verdict.not_ready("AwaitingObservation", "Elasticsearch has not been polled yet", status=c.UNKNOWN)
        verdict.progressing("AwaitingObservation", "Waiting for the first poll", requeue_after=PROGRESS_REQUEUE_SECONDS)
        return None
    if _unsupported_version(ctx):
        return None
    if view is AWAITING:
        verdict.not_ready(
            "AwaitingObservation",
            f"Deployment [{spec.deployment_id}] was changed by the operator after the last poll; waiting for a "
            "newer one",
            status=c.UNKNOWN,
        )
        verdict.progressing(
            "AwaitingObservation", "Waiting for a poll newer than the last change", requeue_after=AWAIT_REQUEUE_SECONDS
        )
        return None
    stats = view
    if stats is not None and stats.model_id != spec.model_id:
        message = (
            f"Deployment [{spec.deployment_id}] in Elasticsearch belongs to model [{stats.model_id}], "
            f"not [{spec.model_id}]; the operator does not touch it. Choose another deploymentId"
        )
        verdict.not_ready("DeploymentModelMismatch", message, warning=True)
        verdict.stalled("DeploymentModelMismatch", message)
        return None
    endpoint, users = observation.inference_endpoint, observation.inference_users
    if spec.number_of_allocations == 0 and not spec.adaptive_enabled:
        if endpoint is not None or (users and stats is not None):
            reason, message = ep.zero_refusal(spec.deployment_id, endpoint, users)
            verdict.not_ready(reason, message, warning=True)
            verdict.stalled(reason, message)
            return None
        return _scaled_to_zero(ctx, stats)
    if stats is None:
        if endpoint is not None:
            message = ep.not_deployed_message(spec, endpoint)
            verdict.not_ready(ep.ENDPOINT_NOT_DEPLOYED, message)
            verdict.stalled(ep.ENDPOINT_NOT_DEPLOYED, message)
            return None
        return _missing(ctx)
    return _existing(ctx, stats)


def _poll_failed(ctx: Context, error: ElasticsearchError) -> None:
    """Connecting or polling failed: retried with back-off (``Retry-After`` a floor), or stalled if permanent.

    The ``failed_polls + 1``-th consecutive failure backs off like an action's would, so an unreachable
    cluster is retried soon at first and then ever more rarely (never less often than the resync loop).
    """
    reason, message = error_reason(error), f"Cannot use Elasticsearch: {error.message}"
    ctx.verdict.not_ready(reason, message, warning=True)
    advice = advise(
        error,
        attempts=ctx.observation.failed_polls + 1,
        action="poll",
        start_policy=ctx.spec.start_policy,
        resync_interval=ctx.resync_interval,
        jitter=ctx.jitter,
    )
    if advice.permanent:
        ctx.verdict.stalled(reason, message)
    else:
        ctx.verdict.progressing(
            "ProgressingWithRetry", "Waiting for Elasticsearch to become reachable", requeue_after=advice.delay
        )


def _scaled_to_zero(ctx: Context, stats: DeploymentStats | None) -> Action | None:
    """``numberOfAllocations: 0``: the deployment is stopped (never forced) and the resource kept."""
    spec, verdict = ctx.spec, ctx.verdict
    deployment = spec.deployment_id
    if stats is None:
        verdict.is_ready(
            SCALED_TO_ZERO,
            f"Deployment [{deployment}] is stopped because numberOfAllocations is 0; scale to 1 or more to start "
            "it again",
        )
        return None
    if stats.state == "stopping":
        verdict.not_ready(SCALED_TO_ZERO, f"Deployment [{deployment}] is being stopped (numberOfAllocations is 0)")
        verdict.progressing("ScalingToZero", "Waiting for the stop to complete", requeue_after=PROGRESS_REQUEUE_SECONDS)
        return None
    if spec.paused:
        verdict.not_ready(
            "AllocationsDiffer",
            f"Deployment [{deployment}] runs but numberOfAllocations is 0; reconciliation is paused, so it is not "
            "stopped",
        )
        return None
    action = gate(ctx, StopDeployment(deployment_id=deployment))
    verdict.not_ready("ScalingToZero", f"numberOfAllocations is 0: stopping deployment [{deployment}]")
    if action is not None:
        verdict.progressing(
            "ScalingToZero", f"Stopping deployment [{deployment}]", requeue_after=PROGRESS_REQUEUE_SECONDS
        )
    return action


def _unsupported_version(ctx: Context) -> bool:
    """Features the spec needs that the cluster's version lacks (serverless reports a fixed,
    meaningless version number and has every feature, so it is not checked)."""
    cluster, spec = ctx.observation.cluster, ctx.spec
    if cluster is None or cluster.build_flavor == "serverless":
        return False
    version = cluster.version
    if not version.at_least(8, 6):
        problem = f"Elasticsearch {version} is not supported: esml-operator needs 8.6 or later"
    elif spec.adaptive_enabled and not version.at_least(8, 16):
        problem = f"adaptiveAllocations need Elasticsearch 8.16 or later; the cluster runs {version}"
    elif spec.deployment_id != spec.model_id and not version.at_least(8, 8):
        problem = f"a deploymentId different from modelId needs Elasticsearch 8.8 or later; the cluster runs {version}"
    else:
        return False
    ctx.verdict.not_ready(UNSUPPORTED_VERSION, problem, warning=True)
    ctx.verdict.stalled(UNSUPPORTED_VERSION, problem)
    return True


def _missing(ctx: Context) -> Action | None:
    spec, verdict = ctx.spec, ctx.verdict
    snapshot = ctx.observation.snapshot
    assert snapshot is not None
    deployment = spec.deployment_id
    if spec.start_policy == "Never":
        message = (
            f"Deployment [{deployment}] does not exist in Elasticsearch and startPolicy is Never, so the "
            "operator only adopts an existing deployment: start it in Elasticsearch or set "
            "startPolicy: IfMissing"
        )
        verdict.not_ready("DeploymentNotFound", message, warning=True)
        verdict.stalled("DeploymentNotFound", message)
        return None
    if spec.model_id not in snapshot.model_ids:
        message = (
            f"Model [{spec.model_id}] does not exist in Elasticsearch; the deployment will be started "
            "once the model is uploaded (for example with eland)"
        )
        verdict.not_ready("ModelNotFound", message, warning=True)
        verdict.stalled("ModelNotFound", message)
        return None
    if spec.paused:
        verdict.not_ready(
            "DeploymentNotFound",
            f"Deployment [{deployment}] does not exist; reconciliation is paused, so it is not started",
            warning=True,
        )
        return None
    action = gate(ctx, start_action(spec))
    verdict.not_ready("DeploymentNotFound", f"Deployment [{deployment}] does not exist; starting it")
    if action is not None:
        verdict.progressing(
            "Starting",
            f"Starting deployment [{deployment}] of model [{spec.model_id}]",
            requeue_after=PROGRESS_REQUEUE_SECONDS,
        )
    return action


def _restarts_for_parameters(ctx: Context, stats: DeploymentStats) -> bool:
    """``restartPolicy: OnParameterChange`` and start-time parameters differ: stop, then start with the spec's.

    Never while paused, never under an inference endpoint's ownership, never under ``startPolicy: Never``
    (the operator could not start it again)."""
    spec = ctx.spec
    if spec.restart_policy != "OnParameterChange" or spec.paused or spec.start_policy == "Never":
        return False
    if ctx.observation.inference_endpoint is not None:
        return False
    return bool(start_parameter_differences(spec, stats))


def _restart(ctx: Context, stats: DeploymentStats) -> Action | None:
    spec, verdict = ctx.spec, ctx.verdict
    differences = "; ".join(start_parameter_differences(spec, stats))
    action = gate(ctx, StopDeployment(deployment_id=spec.deployment_id, restart_for=differences))
    verdict.not_ready(
        "Restarting",
        f"Restarting deployment [{spec.deployment_id}] to apply {differences} (restartPolicy: OnParameterChange); "
        "it is stopped, then started with the spec's parameters",
    )
    if action is not None:
        verdict.progressing(
            "Restarting",
            f"Stopping deployment [{spec.deployment_id}] to restart it",
            requeue_after=PROGRESS_REQUEUE_SECONDS,
        )
    return action


def _restart_advice(spec: ModelDeploymentSpec) -> str:
    """How a start-time difference gets applied, given the spec's policies."""
    if spec.start_policy == "Never":
        return (
            "restartPolicy: OnParameterChange needs startPolicy: IfMissing (the operator could not start it again); "
            "stop it and start it with the spec's values yourself, or change the spec to match"
        )
    manual = "stop the deployment (it is then started with the spec's values) or change the spec to match"
    if spec.restart_policy == "OnParameterChange":  # it acts on this, except while paused
        return f"restartPolicy: OnParameterChange restarts it once spec.paused is false; or {manual}"
    return f"set restartPolicy: OnParameterChange to have the operator restart it with the spec's values, {manual}"


def _allocations_text(stats: DeploymentStats) -> str:
    allocation = stats.allocation_status
    if allocation is None:
        return "allocations unknown"
    return f"{allocation.allocation_count} of {allocation.target_allocation_count} allocations"


def _existing(ctx: Context, stats: DeploymentStats) -> Action | None:
    """A deployment Elasticsearch has: the first finding about its state wins Ready (see :class:`Verdict`)."""
    if _failed(ctx, stats) or _stopping(ctx, stats):
        return None
    candidate = plan_update(ctx.spec, stats)
    if _starting(ctx, stats, candidate):
        return None
    if _restarts_for_parameters(ctx, stats):
        return _restart(ctx, stats)
    action = _update(ctx, candidate)
    _endpoint_refuses(ctx, stats)
    _start_parameters_differ(ctx, stats)
    if not (_allocating(ctx, stats) or _scaling_down(ctx, stats)):
        _fully_allocated(ctx, stats)
    return action


def _es_reason(stats: DeploymentStats) -> str:
    return f": {stats.reason}" if stats.reason else ""


def _failed(ctx: Context, stats: DeploymentStats) -> bool:
    if stats.state != "failed":
        return False
    message = f"Deployment [{ctx.spec.deployment_id}] failed on every node{_es_reason(stats) or ' (see routingTable)'}"
    ctx.verdict.not_ready("DeploymentFailed", message, warning=True)
    ctx.verdict.stalled("DeploymentFailed", message)
    return True


def _converging(
    ctx: Context, reason: str, message: str, waiting: str, *, progress: str = "", warning: bool = False
) -> bool:
    """Not ready while Elasticsearch gets there by itself; Reconciling (``progress`` or ``reason``) unless paused."""
    ctx.verdict.not_ready(reason, message, warning=warning)
    if not ctx.spec.paused:
        ctx.verdict.progressing(progress or reason, waiting, requeue_after=PROGRESS_REQUEUE_SECONDS)
    return True


def _stopping(ctx: Context, stats: DeploymentStats) -> bool:
    """Stopped by someone else: the operator waits for the stop, then starts it again (or reports it missing)."""
    if stats.state != "stopping":
        return False
    then = "started again" if ctx.spec.start_policy == "IfMissing" else "reported missing"
    return _converging(
        ctx,
        "Stopping",
        f"Deployment [{ctx.spec.deployment_id}] is being stopped in Elasticsearch{_es_reason(stats)}",
        f"Waiting for the stop to complete; the deployment will then be {then}",
        progress="WaitingForStop",
        warning=True,
    )


def _starting(ctx: Context, stats: DeploymentStats, candidate: UpdateDeployment | None) -> bool:
    """Not yet started: nothing is changed until it is (the pending update is named)."""
    if stats.state == "started":
        return False
    pending = f"; then updating {describe_update(candidate)}" if candidate and not ctx.spec.paused else ""
    return _converging(
        ctx,
        "Starting",
        f"Deployment [{ctx.spec.deployment_id}] is starting ({_allocations_text(stats)}){pending}",
        "Waiting for the deployment to reach the started state",
    )


def _update(ctx: Context, candidate: UpdateDeployment | None) -> Action | None:
    """The update the spec asks for (through the inference endpoint that owns the deployment, if one does)."""
    if candidate is None:
        return None
    spec, verdict, observation = ctx.spec, ctx.verdict, ctx.observation
    routed = ep.step_through(ep.route_update(candidate, observation), observation)
    action = gate(ctx, routed) if not spec.paused else None
    reason = "AdaptiveAllocationsDiffer" if candidate.send_adaptive else "AllocationsDiffer"
    difference = f"Elasticsearch has {describe_difference(candidate)}"
    verdict.not_ready(reason, f"{difference}; reconciliation is paused" if spec.paused else difference)
    if action is not None:
        verdict.progressing(
            "Updating",
            f"Updating deployment [{spec.deployment_id}]{_through(action)}: {describe_update(candidate)}",
            requeue_after=PROGRESS_REQUEUE_SECONDS,
        )
    return action


def _through(action: Action) -> str:
    """How an update reaches the deployment, when not directly."""
    if not isinstance(action, UpdateInferenceEndpoint):
        return ""
    through = f" through inference endpoint [{action.inference_id}]"
    if action.stepping_to is not None:
        through += (
            f" (Elasticsearch skipped number_of_allocations {action.stepping_to}, which the endpoint's "
            f"stored configuration already had: going through {action.update.number_of_allocations})"
        )
    return through


def _endpoint_refuses(ctx: Context, stats: DeploymentStats) -> None:
    """Parameters an inference endpoint's deployment cannot take (Elasticsearch refuses them)."""
    endpoint = ctx.observation.inference_endpoint
    refusals = ep.endpoint_refusals(ctx.spec, stats, endpoint) if endpoint is not None else []
    if endpoint is not None and refusals:
        message = ep.refusal_message(ctx.spec.deployment_id, endpoint, refusals)
        ctx.verdict.not_ready(ep.ENDPOINT_PARAMETERS_DIFFER, message, warning=True)
        ctx.verdict.stalled(ep.ENDPOINT_PARAMETERS_DIFFER, message)


def _start_parameters_differ(ctx: Context, stats: DeploymentStats) -> None:
    """Start-time parameters that differ and are not being restarted for."""
    spec = ctx.spec
    differences = start_parameter_differences(spec, stats) if ctx.observation.inference_endpoint is None else []
    if differences:
        message = (
            f"Start-time parameters of deployment [{spec.deployment_id}] differ from the spec: "
            f"{'; '.join(differences)}. They are fixed when a deployment starts: {_restart_advice(spec)}"
        )
        ctx.verdict.not_ready("StartParametersDiffer", message, warning=True)
        ctx.verdict.stalled("StartParametersDiffer", message)


def _allocating(ctx: Context, stats: DeploymentStats) -> bool:
    allocation = stats.allocation_status
    if allocation is not None and allocation.state == "fully_allocated":
        return False
    return _converging(
        ctx,
        "Allocating",
        f"Deployment [{ctx.spec.deployment_id}] has {_allocations_text(stats)}{_es_reason(stats)}",
        "Waiting for Elasticsearch to allocate all allocations",
    )


def _scaling_down(ctx: Context, stats: DeploymentStats) -> bool:
    """Elasticsearch says fully_allocated as soon as count >= target: a scale-down still in progress."""
    allocation = stats.allocation_status
    if allocation is None or allocation.allocation_count <= allocation.target_allocation_count:
        return False
    return _converging(
        ctx,
        "ScalingDown",
        f"Deployment [{ctx.spec.deployment_id}] still runs {allocation.allocation_count} allocations; "
        f"Elasticsearch is removing them down to {allocation.target_allocation_count}",
        "Waiting for Elasticsearch to remove surplus allocations",
    )


def _fully_allocated(ctx: Context, stats: DeploymentStats) -> None:
    spec, endpoint = ctx.spec, ctx.observation.inference_endpoint
    adaptive = ""
    if spec.adaptive_enabled:
        adaptive = (
            f", adaptive allocations {describe_adaptive(stats.adaptive_allocations)}; numberOfAllocations "
            f"({spec.number_of_allocations}) is ignored while adaptive allocations are enabled"
        )
    suffix = "; reconciliation is paused" if spec.paused else ""
    owner = f" of {ep.describe_endpoint(endpoint)}" if endpoint is not None else ""
    ctx.verdict.is_ready(
        "FullyAllocated",
        f"Deployment [{spec.deployment_id}]{owner} is fully allocated: {_allocations_text(stats)}{adaptive}{suffix}",
    )
