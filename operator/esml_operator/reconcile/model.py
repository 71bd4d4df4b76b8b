"""Inputs and outputs of the decision: what was observed, what to do, what to report."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar

from esml_operator.elasticsearch.errors import ElasticsearchError
from esml_operator.elasticsearch.ml_capacity import MlCapacity
from esml_operator.elasticsearch.models import (
    AdaptiveAllocations,
    Assignment,
    ClusterInfo,
    ClusterSnapshot,
    InferenceEndpoint,
)

from .spec import ModelDeploymentSpec, SpecError


@dataclass(frozen=True)
class ResourceRef:
    namespace: str
    name: str
    generation: int
    uid: str = ""


@dataclass(frozen=True)
class ConfigProblem:
    """The connection cannot even be attempted (Secret or key missing, HTTP with credentials, ...)."""

    reason: str  # CamelCase condition reason, e.g. "SecretNotFound"
    message: str


@dataclass(frozen=True)
class ActionFailure:
    """The previous attempt of an action failed."""

    action: str  # "start" | "update" | "stop"
    error: ElasticsearchError
    at: datetime
    attempts: int  # consecutive failures of this action
    generation: int  # spec generation it was attempted for


@dataclass(frozen=True)
class RecentAction:
    """The operator's last successful change to a deployment on one cluster, by any resource.

    ``at`` is when Elasticsearch answered. A snapshot whose request was sent
    after ``at`` reflects the change; an older one does not, and then the
    ``assignment`` that ``_start``/``_update`` returned is the freshest view of
    the deployment (``None`` after ``_stop``, which returns none).
    """

    kind: str  # "start" | "update" | "stop"
    at: datetime
    assignment: Assignment | None
    action: Action | None = None  # what was sent (an inference endpoint's _update answers with no assignment)


@dataclass(frozen=True)
class Observation:
    cluster: ClusterInfo | None  # None when not connected
    snapshot: ClusterSnapshot | None  # the cluster's latest _stats poll
    snapshot_at: datetime | None
    fetch_error: ElasticsearchError | None  # connecting/polling failed
    config_problem: ConfigProblem | None
    last_assignment: Assignment | None  # last _start/_update response for this deployment
    last_failure: ActionFailure | None
    selector: str  # label selector for /scale
    recent: RecentAction | None = None  # the last change to this deployment on this cluster (any resource)
    throttle_wait: float = 0.0  # seconds until this deployment's change budget allows another call
    autoscalers: tuple[str, ...] = ()  # HorizontalPodAutoscalers whose scaleTargetRef is this resource
    # Inference endpoints (from the same poll): the one that created this deployment (its id is the deployment
    # id), the ids of endpoints attached to it, and why they are unknown (e.g. a 403 without monitor_inference).
    inference_endpoint: InferenceEndpoint | None = None
    inference_users: tuple[str, ...] = ()
    inference_unknown: str | None = None
    # _ml/info and _ml/memory/_stats, fetched only while this deployment is short of capacity (see .shortfall).
    capacity: MlCapacity | None = None
    # Consecutive failed observations (connect or poll) before this one: a failed one backs off by this count.
    failed_polls: int = 0


@dataclass(frozen=True)
class StartDeployment:
    model_id: str
    deployment_id: str
    number_of_allocations: int | None  # None when adaptive allocations are enabled
    threads_per_allocation: int | None
    queue_capacity: int | None
    priority: str | None
    cache_size: str | None
    adaptive: AdaptiveAllocations | None  # sent as the request body when not None

    kind: ClassVar[str] = "start"


@dataclass(frozen=True)
class UpdateDeployment:
    """``_update``. With ``send_adaptive`` the ``adaptive_allocations`` object is sent and
    ``None`` bounds in it must be sent as JSON ``null`` (Elasticsearch merges the object:
    an omitted key keeps the stored bound, ``null`` clears it)."""

    deployment_id: str
    number_of_allocations: int | None  # None: not sent
    adaptive: AdaptiveAllocations | None
    send_adaptive: bool  # False: the adaptive field is omitted
    # What Elasticsearch had before (for the event text only; not sent).
    from_number_of_allocations: int | None = None
    from_adaptive: AdaptiveAllocations | None = None

    kind: ClassVar[str] = "update"


@dataclass(frozen=True)
class UpdateInferenceEndpoint:
    """``PUT _inference/{task_type}/{inference_id}/_update``: the same change as ``update``, for a deployment
    that the endpoint created, on clusters where the trained-model ``_update`` of it is refused (9.2+).
    ``update.number_of_allocations`` is sent as ``num_allocations``, ``update.adaptive`` as
    ``adaptive_allocations``. Elasticsearch answers with the endpoint, not an assignment."""

    inference_id: str
    task_type: str
    update: UpdateDeployment
    #: Set when ``update`` goes through another count first: Elasticsearch 9.2 skips an endpoint ``_update`` that
    #: leaves the endpoint's *stored* count unchanged, and the stored count can be stale (an earlier trained-model
    #: ``_update``, before 9.2). Then the count the spec wants.
    stepping_to: int | None = None

    kind: ClassVar[str] = "update"

    @property
    def deployment_id(self) -> str:
        return self.update.deployment_id


@dataclass(frozen=True)
class StopDeployment:
    deployment_id: str
    force: bool = False
    restart_for: str = ""  # the start-time differences a restart applies (restartPolicy: OnParameterChange)

    kind: ClassVar[str] = "stop"


Action = StartDeployment | UpdateDeployment | UpdateInferenceEndpoint | StopDeployment


@dataclass(frozen=True)
class Event:
    type: str  # "Normal" | "Warning"
    reason: str
    message: str


@dataclass(frozen=True)
class Settle:
    """The inputs of the pass that planned the action: :func:`~.outcome.settle` decides again with its outcome
    (Elasticsearch's answer, or the failure)."""

    spec: ModelDeploymentSpec | SpecError
    ref: ResourceRef
    observation: Observation
    previous_status: Mapping[str, Any] | None
    resync_interval: float
    jitter: float


@dataclass(frozen=True)
class Decision:
    actions: tuple[Action, ...]
    status: dict[str, Any]  # the complete new .status (camelCase, JSON-ready)
    events: tuple[Event, ...]  # only new failures/transitions
    requeue_after: float | None  # seconds; None: the resync interval is soon enough
    # Set when ``actions`` is not empty: the pass's own inputs, so not part of the decision's value.
    settle: Settle | None = field(default=None, compare=False)
