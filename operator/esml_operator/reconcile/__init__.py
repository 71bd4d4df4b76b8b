"""Pure decision logic: spec plus observed Elasticsearch state in, plan plus status out. No I/O."""

from .backoff import RetryAdvice, advise, backoff_seconds, error_reason
from .claims import Claimant, ClaimIndex, ClaimKey
from .conditions import CONDITION_TYPES
from .decide import decide, decide_deletion
from .endpoints import deletion_notice, ownership, stop_refused_notice
from .events import action_event
from .gate import AWAIT_REQUEUE_SECONDS, PROGRESS_REQUEUE_SECONDS
from .model import (
    Action,
    ActionFailure,
    ConfigProblem,
    Decision,
    Event,
    Observation,
    RecentAction,
    ResourceRef,
    StartDeployment,
    StopDeployment,
    UpdateDeployment,
    UpdateInferenceEndpoint,
)
from .outcome import DELETION_BLOCKED, Failed, Outcome, Succeeded, deletion_blocked, settle
from .spec import (
    AdaptiveSpec,
    ConnectionSpec,
    ElasticsearchRefSpec,
    ModelDeploymentSpec,
    SecretRef,
    SpecError,
    parse_or_error,
    parse_spec,
)
from .status import with_action_applied

__all__ = [
    "AWAIT_REQUEUE_SECONDS",
    "CONDITION_TYPES",
    "DELETION_BLOCKED",
    "PROGRESS_REQUEUE_SECONDS",
    "Action",
    "ActionFailure",
    "AdaptiveSpec",
    "ClaimIndex",
    "ClaimKey",
    "Claimant",
    "ConfigProblem",
    "ConnectionSpec",
    "Decision",
    "ElasticsearchRefSpec",
    "Event",
    "Failed",
    "ModelDeploymentSpec",
    "Observation",
    "Outcome",
    "RecentAction",
    "ResourceRef",
    "RetryAdvice",
    "SecretRef",
    "SpecError",
    "StartDeployment",
    "StopDeployment",
    "Succeeded",
    "UpdateDeployment",
    "UpdateInferenceEndpoint",
    "action_event",
    "advise",
    "backoff_seconds",
    "decide",
    "decide_deletion",
    "deletion_blocked",
    "deletion_notice",
    "error_reason",
    "ownership",
    "parse_or_error",
    "parse_spec",
    "settle",
    "stop_refused_notice",
    "with_action_applied",
]
