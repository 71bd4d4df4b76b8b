"""Pure decision logic: spec plus observed Elasticsearch state in, plan plus status out. No I/O."""

from .backoff import backoff_seconds, error_reason, is_permanent, retry_at
from .conditions import CONDITION_TYPES
from .decide import decide, decide_deletion
from .events import action_event
from .gate import PROGRESS_REQUEUE_SECONDS
from .model import (
    Action,
    ActionFailure,
    ConfigProblem,
    Decision,
    Event,
    Observation,
    ResourceRef,
    StartDeployment,
    StopDeployment,
    UpdateDeployment,
)
from .spec import (
    AdaptiveSpec,
    ConnectionSpec,
    ElasticsearchRefSpec,
    ModelDeploymentSpec,
    SecretRef,
    SpecError,
    parse_spec,
)
from .status import with_action_applied

__all__ = [
    "CONDITION_TYPES",
    "PROGRESS_REQUEUE_SECONDS",
    "Action",
    "ActionFailure",
    "AdaptiveSpec",
    "ConfigProblem",
    "ConnectionSpec",
    "Decision",
    "ElasticsearchRefSpec",
    "Event",
    "ModelDeploymentSpec",
    "Observation",
    "ResourceRef",
    "SecretRef",
    "SpecError",
    "StartDeployment",
    "StopDeployment",
    "UpdateDeployment",
    "action_event",
    "backoff_seconds",
    "decide",
    "decide_deletion",
    "error_reason",
    "is_permanent",
    "parse_spec",
    "retry_at",
    "with_action_applied",
]
