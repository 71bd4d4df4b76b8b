"""Property tests (hypothesis) of the pure ``decide``: for any valid spec and any observed state.

Generated inputs: specs that the CRD accepts; observations with the deployment
missing, starting, started, stopping or failed, any allocation counts, adaptive
allocations on or off in the spec and in Elasticsearch, a snapshot or none, a
recent change by the operator newer or older than the snapshot, fetch errors,
configuration problems, earlier action failures, a spent change budget and an
earlier status. The properties:

* at most one action, and only ``_start`` or ``_update`` (``decide`` never stops);
* no action without a usable snapshot, while paused, or while changes are coalesced;
* ``_start`` only for a deployment that the freshest view does not hold, of a model
  the snapshot holds: never for an existing deployment;
* ``_update`` only for a started deployment of the same model, and never a no-op
  (it changes a value that Elasticsearch does not already have, as far as the
  freshest view knows);
* ``number_of_allocations`` is never sent while the spec enables adaptive allocations;
* a deployment that an inference endpoint owns is never started, and on 9.2+ (where the trained-model
  ``_update`` of it is a 409) only its endpoint's ``_update`` is sent; that call is sent for nothing else;
* no action on a snapshot older than the last change (+1 s, when no change is in
  memory) or than a failed attempt of the same action, nor before its ``Retry-After``;
* the decision is a pure function: equal inputs give equal decisions, the
  inputs are not mutated, and every timestamp in the status comes from the inputs.

Examples are derandomized (the same ones on every run, no example database) and
their count is modest, so CI is reproducible and the module takes a few seconds.
"""

from __future__ import annotations

import copy
import dataclasses
from collections import Counter
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from esml_operator.elasticsearch import errors as es
from esml_operator.elasticsearch.models import (
    AdaptiveAllocations,
    AllocationStatus,
    Assignment,
    ClusterInfo,
    ClusterSnapshot,
    DeploymentStats,
    EsVersion,
    InferenceEndpoint,
    InferenceServiceSettings,
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
    StartDeployment,
    UpdateDeployment,
    UpdateInferenceEndpoint,
    decide,
    parse_or_error,
)

PROPERTIES = settings(
    max_examples=300,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
PURITY = settings(PROPERTIES, max_examples=100)

REF = ResourceRef(namespace="ns", name="mdep", generation=3, uid="uid-1")
SELECTOR = "esml.io/model-deployment=mdep"
RESYNC = 300.0
#: A small pool of ids, so that specs and snapshots often name the same model and deployment.
MODELS = ("my-model", ".elser_model_2", "e5-small.v1")
DEPLOYMENT_IDS = (*MODELS, "search-1")
THREADS = (1, 2, 4, 8, 16, 32)
TIME_KEYS = ("lastTransitionTime", "lastSyncTime", "lastUpdateTime")


# -- building observations (the one place to adapt when Observation gains fields) ------------------


def make_observation(
    *,
    cluster: ClusterInfo | None = None,
    snapshot: ClusterSnapshot | None = None,
    snapshot_at: datetime | None = None,
    fetch_error: es.ElasticsearchError | None = None,
    config_problem: ConfigProblem | None = None,
    last_assignment: Assignment | None = None,
    last_failure: ActionFailure | None = None,
    recent: RecentAction | None = None,
    throttle_wait: float = 0.0,
    selector: str = SELECTOR,
    inference_endpoint: InferenceEndpoint | None = None,
    inference_users: tuple[str, ...] = (),
    inference_unknown: str | None = None,
) -> Observation:
    return Observation(
        cluster=cluster,
        snapshot=snapshot,
        snapshot_at=snapshot_at,
        fetch_error=fetch_error,
        config_problem=config_problem,
        last_assignment=last_assignment,
        last_failure=last_failure,
        recent=recent,
        throttle_wait=throttle_wait,
        selector=selector,
        inference_endpoint=inference_endpoint,
        inference_users=inference_users,
        inference_unknown=inference_unknown,
    )


# -- what the spec asks for (restated from the CRD, independently of the parser) ------------------


def format_time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def resolved_deployment_id(spec: Mapping[str, Any]) -> str:
    return str(spec.get("deploymentId", spec["modelId"]))


def spec_count(spec: Mapping[str, Any]) -> int:
    return int(spec.get("numberOfAllocations", 1))


def adaptive_enabled(spec: Mapping[str, Any]) -> bool:
    return bool(spec.get("adaptiveAllocations", {}).get("enabled", False))


def spec_adaptive(spec: Mapping[str, Any]) -> AdaptiveAllocations | None:
    """The adaptive settings as Elasticsearch would hold them once the spec is applied."""
    if not adaptive_enabled(spec):
        return None
    raw = spec["adaptiveAllocations"]
    return AdaptiveAllocations(True, raw.get("minNumberOfAllocations"), raw.get("maxNumberOfAllocations"))


# -- strategies: specs the CRD accepts -------------------------------------------------------------


def optional(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(st.none(), strategy)


@st.composite
def adaptive_specs(draw: st.DrawFn) -> dict[str, Any]:
    raw: dict[str, Any] = {}
    enabled = draw(st.sampled_from([True, True, False, None]))
    if enabled is not None:
        raw["enabled"] = enabled
    minimum = draw(optional(st.integers(0, 3)))
    maximum = draw(optional(st.integers(max(1, minimum or 0), 5)))
    if minimum is not None:
        raw["minNumberOfAllocations"] = minimum
    if maximum is not None:
        raw["maxNumberOfAllocations"] = maximum
    return raw


@st.composite
def connections(draw: st.DrawFn) -> dict[str, Any]:
    if draw(st.booleans()):
        raw: dict[str, Any] = {"url": draw(st.sampled_from(["https://es.example:9200", "http://es:9200/prefix"]))}
        if draw(st.booleans()):
            raw["credentialsSecretRef"] = {"name": "creds"}
        if draw(st.booleans()):
            raw["caSecretRef"] = {"name": "ca", "key": "ca.crt"}
    else:
        raw = {"elasticsearchRef": {"name": "quickstart"}}
    if draw(st.booleans()):
        raw["insecureSkipTLSVerify"] = draw(st.booleans())
    return raw


@st.composite
def specs(draw: st.DrawFn) -> dict[str, Any]:
    """A raw spec the CRD accepts (including the CEL rules for priority low)."""
    fields: dict[str, Any] = {
        "modelId": draw(st.sampled_from(MODELS)),
        "deploymentId": draw(optional(st.sampled_from(DEPLOYMENT_IDS))),
        "numberOfAllocations": draw(optional(st.integers(1, 5))),
        "adaptiveAllocations": draw(adaptive_specs()) if draw(st.integers(0, 2)) else None,
        "threadsPerAllocation": draw(optional(st.sampled_from(THREADS))),
        "queueCapacity": draw(optional(st.sampled_from([1, 1024, 10000, 100000]))),
        "priority": draw(optional(st.sampled_from(["normal", "low"]))),
        "cacheSize": draw(optional(st.sampled_from(["0", "512b", "10kb", "1.5mb", "1GB"]))),
        "elasticsearch": draw(connections()),
        "startPolicy": draw(optional(st.sampled_from(["IfMissing", "Never"]))),
        "deletionPolicy": draw(optional(st.sampled_from(["Retain", "Stop"]))),
        "paused": draw(st.sampled_from([None, None, False, True])),
    }
    if fields["priority"] == "low":
        fields["numberOfAllocations"] = draw(st.sampled_from([None, 1]))
        fields["threadsPerAllocation"] = draw(st.sampled_from([None, 1]))
        if fields["adaptiveAllocations"] is not None:
            fields["adaptiveAllocations"]["enabled"] = False
    return {key: value for key, value in fields.items() if value is not None}


# -- strategies: what Elasticsearch reports --------------------------------------------------------

ERRORS: tuple[Callable[[], es.ElasticsearchError], ...] = (
    lambda: es.ConnectionFailedError("connection refused"),
    lambda: es.TransportTimeoutError("read timed out after 10s"),
    lambda: es.TLSError("certificate verify failed"),
    lambda: es.MalformedResponseError("invalid JSON"),
    lambda: es.ProductCheckError("not Elasticsearch"),
    lambda: es.UnsupportedVersionError("needs 8.6"),
    lambda: es.InsecureConnectionError("credentials over plain http"),
    lambda: es.BadRequestError("bad", status=400, error_type="illegal_argument_exception"),
    lambda: es.AuthenticationError("unable to authenticate", status=401, error_type="security_exception"),
    lambda: es.AuthorizationError("unauthorized", status=403, error_type="security_exception"),
    lambda: es.ClusterNotReadyError("upgrade in progress", status=403, error_type="status_exception"),
    lambda: es.NotFoundError("no such model", status=404, error_type="resource_not_found_exception"),
    lambda: es.RequestTimeoutError("timed out waiting", status=408, error_type="status_exception"),
    lambda: es.ConflictError("owned by an inference endpoint", status=409, error_type="status_exception"),
    lambda: es.TooManyRequestsError("capacity", status=429, error_type="status_exception", retry_after=30.0),
    lambda: es.TooManyRequestsError("capacity", status=429, error_type="status_exception"),
    lambda: es.ServerError("unavailable", status=503, error_type="master_not_discovered_exception", retry_after=5.0),
)
errors = st.sampled_from(ERRORS).map(lambda make: make())
counts = st.integers(0, 5)
ROUTES = tuple(
    NodeRoute(node_id=node, routing_state=state, node_name=f"es-{node}", current_allocations=current)
    for node, state, current in [
        ("node-a", "started", 2),
        ("node-b", "starting", None),
        ("node-c", "failed", 0),
        ("node-a", "stopping", 1),
    ]
)


@st.composite
def es_adaptive(draw: st.DrawFn) -> AdaptiveAllocations:
    minimum = draw(optional(st.integers(0, 3)))
    return AdaptiveAllocations(
        enabled=draw(st.booleans()),
        min_number_of_allocations=minimum,
        max_number_of_allocations=draw(optional(st.integers(max(1, minimum or 0), 5))),
    )


@st.composite
def deployment_stats(
    draw: st.DrawFn, deployment_id: str, model_id: str, echo: Mapping[str, Any] | None
) -> DeploymentStats:
    """A deployment in any state; with ``echo`` it often already has what that spec asks for."""
    values: dict[str, Any] = {
        "number_of_allocations": draw(optional(st.integers(1, 5))),
        "adaptive_allocations": draw(optional(es_adaptive())),
        "threads_per_allocation": draw(optional(st.sampled_from(THREADS))),
        "queue_capacity": draw(optional(st.sampled_from([1024, 10000]))),
        "cache_size": draw(optional(st.sampled_from(["10kb", "1630b"]))),
        "priority": draw(st.sampled_from(["normal", "normal", "low"])),
    }
    if echo is not None and draw(st.booleans()):
        values.update(
            number_of_allocations=spec_count(echo),
            adaptive_allocations=spec_adaptive(echo) or draw(st.sampled_from([None, AdaptiveAllocations(False)])),
            threads_per_allocation=echo.get("threadsPerAllocation", values["threads_per_allocation"]),
            queue_capacity=echo.get("queueCapacity", values["queue_capacity"]),
            cache_size=echo.get("cacheSize", values["cache_size"]),
            priority=echo.get("priority", "normal"),
        )
    allocation = None
    if draw(st.integers(0, 4)):
        running = draw(counts)
        target = running if draw(st.booleans()) else draw(counts)
        state = "fully_allocated" if running >= target else draw(st.sampled_from(["starting", "started"]))
        allocation = AllocationStatus(running, target, draw(st.sampled_from([state, state, "started"])))
    routes = {route.node_id: route for route in draw(st.lists(st.sampled_from(ROUTES), max_size=3))}
    return DeploymentStats(
        deployment_id=deployment_id,
        model_id=model_id,
        state=draw(st.sampled_from(["started", "started", "started", None, "starting", "stopping", "failed"])),
        reason=draw(st.sampled_from([None, "", "not enough memory"])),
        allocation_status=allocation,
        start_time_ms=draw(optional(st.integers(0, 4_000_000_000_000))),
        nodes=tuple(routes.values()),
        **values,
    )


@st.composite
def snapshots(draw: st.DrawFn, spec: Mapping[str, Any]) -> ClusterSnapshot:
    """Mostly about the spec's own deployment and model, plus unrelated ones."""
    wanted, model = resolved_deployment_id(spec), spec["modelId"]
    ids = set(draw(st.lists(st.sampled_from(DEPLOYMENT_IDS), max_size=2)))
    if draw(st.integers(0, 3)):
        ids.add(wanted)
    else:
        ids.discard(wanted)
    models = set(draw(st.lists(st.sampled_from(MODELS), max_size=2)))
    if draw(st.integers(0, 3)):
        models.add(model)
    deployments = {}
    for deployment_id in sorted(ids):
        ours = deployment_id == wanted and draw(st.integers(0, 3)) > 0
        owner = model if ours else draw(st.sampled_from(MODELS))
        deployments[deployment_id] = draw(deployment_stats(deployment_id, owner, spec if ours else None))
    return ClusterSnapshot(model_ids=frozenset(models), deployments=deployments)


clusters = optional(
    st.builds(
        ClusterInfo,
        version=st.sampled_from(
            ["9.2.0", "9.2.0", "9.1.0", "9.1.0", "9.1.0", "8.16.0", "8.15.1", "8.8.0", "8.6.0", "8.5.0"]
        ).map(EsVersion.parse),
        cluster_name=st.sampled_from(["", "prod"]),
        build_flavor=st.sampled_from(["default", "default", "serverless"]),
    )
)


#: Clusters for deployments that an inference endpoint owns: around the 9.2 boundary.
owned_clusters = st.builds(
    ClusterInfo,
    version=st.sampled_from(["9.1.0", "9.2.0", "8.18.4", "9.3.1"]).map(EsVersion.parse),
    cluster_name=st.just("prod"),
)


@st.composite
def assignments(draw: st.DrawFn, spec: Mapping[str, Any]) -> Assignment:
    """A ``_start``/``_update`` answer, mostly for the spec's own deployment and often matching the spec."""
    ours = draw(st.integers(0, 3)) > 0
    count, adaptive = draw(st.integers(1, 5)), draw(optional(es_adaptive()))
    if ours and draw(st.booleans()):
        count, adaptive = spec_count(spec), spec_adaptive(spec)
    return Assignment(
        task_parameters=TaskParameters(
            model_id=spec["modelId"] if ours else draw(st.sampled_from(MODELS)),
            deployment_id=resolved_deployment_id(spec) if ours else draw(st.sampled_from(DEPLOYMENT_IDS)),
            number_of_allocations=count,
            threads_per_allocation=1,
            queue_capacity=10000,
        ),
        assignment_state=draw(st.sampled_from(["started", "started", "starting", "stopping"])),
        routing_table=tuple(
            NodeRoute(node_id=node, routing_state="started", current_allocations=1, target_allocations=2)
            for node in draw(st.lists(st.sampled_from(["node-a", "node-b"]), unique=True))
        ),
        adaptive_allocations=adaptive,
    )


@dataclasses.dataclass(frozen=True)
class Inputs:
    spec: dict[str, Any]
    observation: Observation
    previous: dict[str, Any] | None
    now: datetime
    jitter: float

    def decide(self) -> Decision:
        return decide(
            parse_or_error(self.spec),
            REF,
            self.observation,
            self.previous,
            self.now,
            resync_interval=RESYNC,
            jitter=self.jitter,
        )


def seconds_before(now: datetime, draw: st.DrawFn, most: int = 900) -> datetime:
    return now - timedelta(seconds=draw(st.floats(0, most, allow_nan=False)))


@st.composite
def previous_statuses(draw: st.DrawFn, now: datetime) -> dict[str, Any] | None:
    if draw(st.booleans()):
        return None
    status: dict[str, Any] = {"observedGeneration": draw(st.integers(1, REF.generation))}
    if draw(st.booleans()):
        status["lastUpdateTime"] = format_time(seconds_before(now, draw, 120))
    if draw(st.booleans()):
        status["lastSyncTime"] = format_time(seconds_before(now, draw))
        status["allocations"] = draw(counts)
    if draw(st.booleans()):
        status["conditions"] = [
            {
                "type": kind,
                "status": draw(st.sampled_from(["True", "False", "Unknown"])),
                "reason": "Earlier",
                "message": "",
                "lastTransitionTime": format_time(seconds_before(now, draw)),
                "observedGeneration": 2,
            }
            for kind in draw(
                st.lists(st.sampled_from(["Ready", "Reconciling", "Stalled", "ElasticsearchReachable"]), unique=True)
            )
        ]
    return status


@st.composite
def action_failures(draw: st.DrawFn, now: datetime) -> ActionFailure:
    return ActionFailure(
        action=draw(st.sampled_from(["start", "update", "stop"])),
        error=draw(errors),
        at=seconds_before(now, draw, 400),
        attempts=draw(st.integers(1, 20)),
        generation=draw(st.sampled_from([REF.generation, REF.generation - 1])),
    )


@st.composite
def recent_actions(draw: st.DrawFn, now: datetime, spec: Mapping[str, Any]) -> RecentAction:
    kind = draw(st.sampled_from(["start", "update", "stop"]))
    assignment = None if kind == "stop" else draw(assignments(spec))
    return RecentAction(kind=kind, at=seconds_before(now, draw, 120), assignment=assignment)


@st.composite
def ownerships(draw: st.DrawFn, spec: Mapping[str, Any], owned: bool = False) -> dict[str, Any]:
    """Mostly no inference endpoint; often the endpoint that created the spec's deployment; sometimes endpoints
    attached to it, or ownership unknown (no monitor_inference). ``owned``: always the creating endpoint."""
    kind = "owned" if owned else draw(st.sampled_from(["none", "none", "none", "owned", "attached", "unknown"]))
    if kind == "owned":
        endpoint = InferenceEndpoint(
            resolved_deployment_id(spec),
            draw(st.sampled_from(["sparse_embedding", "text_embedding"])),
            draw(st.sampled_from(["elasticsearch", "elser"])),
            InferenceServiceSettings(model_id=spec["modelId"], num_threads=draw(optional(st.sampled_from(THREADS)))),
        )
        return {"inference_endpoint": endpoint}
    if kind == "attached":
        return {"inference_users": tuple(draw(st.lists(st.sampled_from(["e5-a", "e5-b"]), min_size=1, unique=True)))}
    if kind == "unknown":
        return {"inference_unknown": "Elasticsearch rejected listing of inference endpoints (403)"}
    return {}


#: Observation shapes: calm (a snapshot and nothing else), calm plus one complication, or anything.
SHAPES = ("calm", "calm", "failure", "recent", "recent", "throttle", "anything", "anything")


@st.composite
def observations(draw: st.DrawFn, now: datetime, spec: Mapping[str, Any], owned: bool = False) -> Observation:
    """Mostly a calm observation with at most one complication, so that plans are frequent and every
    complication meets them; the rest anything."""
    shape = draw(st.sampled_from(SHAPES))
    if shape != "anything":
        return make_observation(
            cluster=draw(owned_clusters if owned else clusters),
            snapshot=draw(snapshots(spec)),
            snapshot_at=seconds_before(now, draw, 120),
            last_assignment=draw(optional(assignments(spec))),
            last_failure=draw(action_failures(now)) if shape == "failure" else None,
            recent=draw(recent_actions(now, spec)) if shape == "recent" else None,
            throttle_wait=draw(st.sampled_from([0.25, 3.0])) if shape == "throttle" else 0.0,
            **draw(ownerships(spec, owned)),
        )
    trouble = draw(st.sampled_from(["none", "fetch_error", "config_problem"]))
    snapshot = draw(optional(snapshots(spec)))
    return make_observation(
        cluster=draw(owned_clusters if owned else clusters),
        snapshot=snapshot,
        snapshot_at=seconds_before(now, draw, 120) if snapshot is not None else None,
        fetch_error=draw(errors) if trouble == "fetch_error" else None,
        config_problem=ConfigProblem("SecretNotFound", 'Secret "creds" not found')
        if trouble == "config_problem"
        else None,
        last_assignment=draw(optional(assignments(spec))),
        last_failure=draw(optional(action_failures(now))),
        recent=draw(optional(recent_actions(now, spec))),
        throttle_wait=draw(st.sampled_from([0.0, 0.0, 0.25])),
        **draw(ownerships(spec, owned)),
    )


@st.composite
def inputs(draw: st.DrawFn, owned: bool = False) -> Inputs:
    now = draw(st.datetimes(min_value=datetime(2001, 1, 1), max_value=datetime(2090, 12, 31), timezones=st.just(UTC)))
    spec = draw(specs())
    return Inputs(
        spec=spec,
        observation=draw(observations(now, spec, owned)),
        previous=draw(previous_statuses(now)),
        now=now,
        jitter=draw(st.floats(0, 1, exclude_max=True)),
    )


# -- helpers for the assertions --------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Known:
    """What Elasticsearch has for the deployment, as far as the freshest view knows."""

    model_id: str
    state: str | None
    number_of_allocations: int | None
    adaptive: AdaptiveAllocations | None


def snapshot_is_fresh(obs: Observation) -> bool:
    """Whether the snapshot was taken after the operator's last change in memory (if any)."""
    assert obs.snapshot_at is not None
    return obs.recent is None or obs.snapshot_at >= obs.recent.at


def known(obs: Observation, deployment_id: str) -> Known | None:
    """The snapshot's entry, or the answer of the operator's own change when that is newer."""
    assert obs.snapshot is not None
    if not snapshot_is_fresh(obs):
        assert obs.recent is not None and obs.recent.assignment is not None, "acted without a view"
        assignment = obs.recent.assignment
        params = assignment.task_parameters
        assert params.deployment_id == deployment_id, "acted on another deployment's answer"
        return Known(
            params.model_id,
            assignment.assignment_state,
            params.number_of_allocations,
            assignment.adaptive_allocations,
        )
    stats = obs.snapshot.deployments.get(deployment_id)
    if stats is None:
        return None
    count = stats.number_of_allocations  # the task parameter, else the target count
    if count is None and stats.allocation_status is not None:
        count = stats.allocation_status.target_allocation_count
    return Known(stats.model_id, stats.state, count, stats.adaptive_allocations)


def fingerprint(value: Any) -> Any:
    """A comparable deep picture of a value (errors compare by identity, so they are unfolded)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return (
            type(value).__name__,
            tuple((f.name, fingerprint(getattr(value, f.name))) for f in dataclasses.fields(value)),
        )
    if isinstance(value, BaseException):
        return (type(value).__name__, value.args, fingerprint(vars(value)))
    if isinstance(value, Mapping):
        return ("map", tuple((key, fingerprint(item)) for key, item in value.items()))
    if isinstance(value, list | tuple):
        return (type(value).__name__, tuple(fingerprint(item) for item in value))
    if isinstance(value, frozenset | set):
        return ("set", tuple(sorted(fingerprint(item) for item in value)))
    return value


def times_in(status: Mapping[str, Any]) -> list[str]:
    found = [str(status[key]) for key in TIME_KEYS if key in status]
    found += [str(item["lastTransitionTime"]) for item in status.get("conditions", [])]
    return found


# -- the plan ----------------------------------------------------------------------------------------


def plan_kind(decision: Decision) -> str:
    if not decision.actions:
        return "none"
    action = decision.actions[0]
    if isinstance(action, UpdateInferenceEndpoint):
        return "update-endpoint"
    if isinstance(action, UpdateDeployment):
        return "update-adaptive" if action.send_adaptive else "update-count"
    return action.kind


def check_plan(case: Inputs, decision: Decision) -> None:
    spec, obs = case.spec, case.observation
    assert len(decision.actions) <= 1, decision.actions
    if not decision.actions:
        return
    (action,) = decision.actions
    assert isinstance(action, StartDeployment | UpdateDeployment | UpdateInferenceEndpoint), action

    # Only on a usable snapshot, never while paused or coalescing.
    assert obs.snapshot is not None and obs.snapshot_at is not None, "acted without a snapshot"
    assert obs.fetch_error is None and obs.config_problem is None, "acted on a failed observation"
    assert not spec.get("paused", False), "acted while paused"
    assert obs.throttle_wait <= 0, "acted while changes are coalesced"
    # Never on a view older than a change or a failure the operator knows of.
    last_update = (case.previous or {}).get("lastUpdateTime")
    if obs.recent is None and last_update is not None:
        assert obs.snapshot_at >= parse_time(last_update) + timedelta(seconds=1), "acted on a pre-change snapshot"
    failure = obs.last_failure
    if failure is not None and failure.generation == REF.generation and failure.action == action.kind:
        assert obs.snapshot_at >= failure.at, "retried on a snapshot older than the failure"
        if failure.error.retry_after is not None:
            assert case.now >= failure.at + timedelta(seconds=failure.error.retry_after), "Retry-After ignored"

    deployment_id = resolved_deployment_id(spec)
    assert action.deployment_id == deployment_id
    existing = known(obs, deployment_id)
    endpoint = obs.inference_endpoint
    past_92 = obs.cluster is not None and obs.cluster.version >= EsVersion(9, 2, 0)
    stepping_to = None
    if isinstance(action, UpdateInferenceEndpoint):
        assert endpoint is not None and past_92, "an endpoint _update for a deployment no endpoint owns, or before 9.2"
        assert (action.inference_id, action.task_type) == (endpoint.inference_id, endpoint.task_type)
        stepping_to = action.stepping_to
        action = action.update
    elif endpoint is not None:
        assert not isinstance(action, StartDeployment), "_start of an inference endpoint's deployment"
        assert not past_92, "a trained-model _update of an endpoint's deployment on 9.2+ (a 409)"
    if endpoint is not None:
        assert adaptive_enabled(spec) or spec_count(spec) > 0, "scale to zero of an endpoint's deployment"
    if isinstance(action, StartDeployment):
        assert existing is None, f"_start of an existing deployment: {existing}"
        assert snapshot_is_fresh(obs), "_start on a snapshot older than the operator's last change"
        assert spec.get("startPolicy", "IfMissing") == "IfMissing"
        assert action.model_id == spec["modelId"] and action.model_id in obs.snapshot.model_ids
        if adaptive_enabled(spec):
            assert action.number_of_allocations is None, "number_of_allocations sent while adaptive is enabled"
            assert action.adaptive == spec_adaptive(spec)
        else:
            assert action.number_of_allocations == spec_count(spec)
            assert action.adaptive is None
        return

    assert existing is not None and existing.state == "started" and existing.model_id == spec["modelId"], existing
    changes_count = action.number_of_allocations is not None and (
        action.number_of_allocations != existing.number_of_allocations
    )
    changes_adaptive = action.send_adaptive and action.adaptive != existing.adaptive
    assert changes_count or changes_adaptive, f"no-op update {action} for {existing}"
    if adaptive_enabled(spec):
        assert action.number_of_allocations is None, "number_of_allocations sent while adaptive is enabled"
        assert action.send_adaptive and action.adaptive == spec_adaptive(spec)
    elif stepping_to is not None:  # through another count first (see endpoints.step_through)
        assert stepping_to == spec_count(spec) and not action.send_adaptive
    else:
        assert action.number_of_allocations == spec_count(spec)
        assert not action.send_adaptive or action.adaptive == AdaptiveAllocations(False)


def check_status(decision: Decision) -> None:
    status = decision.status
    conditions = {item["type"]: item for item in status["conditions"]}
    assert sorted(conditions) == ["ElasticsearchReachable", "Ready", "Reconciling", "Stalled"]
    assert not (conditions["Reconciling"]["status"] == "True" and conditions["Stalled"]["status"] == "True")
    assert status["observedGeneration"] == REF.generation
    assert all(item["observedGeneration"] == REF.generation for item in status["conditions"])
    assert status["selector"] == SELECTOR


def test_the_plan_is_safe_for_any_spec_and_observation() -> None:
    seen: Counter[str] = Counter()

    @settings(PROPERTIES, max_examples=500)
    @given(inputs())
    def check(case: Inputs) -> None:
        decision = case.decide()
        check_plan(case, decision)
        check_status(decision)
        seen[plan_kind(decision)] += 1

    check()
    # The generated inputs must reach every kind of plan, or the properties above hold vacuously. (500 examples:
    # Hypothesis also draws constants from the modules imported, so the mix varies with the tests run before.)
    kinds = ("none", "start", "update-count", "update-adaptive")
    assert min(seen[kind] for kind in kinds) >= 5, seen  # (endpoint updates: see the test below)


def test_the_plan_is_safe_for_deployments_that_an_inference_endpoint_owns() -> None:
    seen: Counter[str] = Counter()

    @settings(PROPERTIES, max_examples=500)
    @given(inputs(owned=True))
    def check(case: Inputs) -> None:
        decision = case.decide()
        check_plan(case, decision)
        check_status(decision)
        seen[plan_kind(decision)] += 1

    check()
    # Never a _start; the endpoint's _update on 9.2+, the trained-model _update before.
    assert set(seen) <= {"none", "update-endpoint", "update-count", "update-adaptive"}, seen
    # (Hypothesis also draws constants from the modules imported, so the mix varies with the tests run before.)
    assert seen["update-endpoint"] >= 5 and seen["update-count"] + seen["update-adaptive"] >= 3, seen


# -- purity --------------------------------------------------------------------------------------------


@PURITY
@given(inputs())
def test_the_decision_is_a_pure_function_of_its_inputs(case: Inputs) -> None:
    before = fingerprint(case)
    first = case.decide()
    assert fingerprint(case) == before, "decide mutated its inputs"
    assert case.decide() == first, "a second call gave a different decision"
    twin = Inputs(
        spec=copy.deepcopy(case.spec),
        observation=copy.deepcopy(case.observation),
        previous=copy.deepcopy(case.previous),
        now=case.now,
        jitter=case.jitter,
    )
    assert twin.decide() == first, "equal inputs gave different decisions"
    # No clock is read: every timestamp written comes from now, the snapshot or the previous status.
    allowed = {format_time(case.now)} | set(times_in(case.previous or {}))
    if case.observation.snapshot_at is not None:
        allowed.add(format_time(case.observation.snapshot_at))
    written = set(times_in(first.status))
    assert written <= allowed, f"timestamps not derived from the inputs: {sorted(written - allowed)}"
