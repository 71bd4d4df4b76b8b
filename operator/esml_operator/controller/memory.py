"""What the operator remembers about each resource between passes (:class:`Entry`), and the only code that
changes it.

The watch delivers bodies (:func:`delivered`). In a pass, the observer returns what it learned
(:class:`Observed`), the actor returns the outcome, and the reconciler or deleter hands both to
:func:`remember`; the status writer reports what it wrote (:func:`wrote`). So attempt counting and the
retry jitter live here, once: a failure (an action's, a deletion's stop, a poll's) is counted against the
previous one of its kind and draws a fresh jitter, which then stays put until the next failure (the retry
moment of a failure does not move between passes).
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from esml_operator.elasticsearch.client import ElasticsearchClient
from esml_operator.elasticsearch.connections import ConnectionConfig
from esml_operator.elasticsearch.models import Assignment, ClusterInfo
from esml_operator.reconcile import (
    ActionFailure,
    ClaimKey,
    Failed,
    ModelDeploymentSpec,
    Observation,
    Outcome,
    SpecError,
    Succeeded,
    parse_or_error,
)

KOPF_STATUS_KEY = "kopf"
#: What the operator keeps of a watched body (:func:`trimmed`): the spec, its status, and the metadata that a pass,
#: the registry or an Event reads. Not ``managedFields``, labels, owner references, other controllers' annotations
#: (kubectl's ``last-applied-configuration`` is a second copy of the spec) and the like.
KEPT_FIELDS = ("apiVersion", "kind", "spec", "status")
KEPT_METADATA = (
    "name",
    "namespace",
    "uid",
    "generation",
    "resourceVersion",
    "creationTimestamp",
    "deletionTimestamp",
    "finalizers",
    "annotations",
)
#: Of the annotations, only the operator's own (``esml.io/skip-stop``) are kept.
OWN_ANNOTATIONS = "esml.io/"


@dataclass(frozen=True)
class Quiet:
    """What a full pass that ended quietly saw (:mod:`.quiet`): a resync pass that sees the same ends early."""

    resource_version: str
    generation: int
    secrets_fingerprint: str | None
    config: ConnectionConfig
    info: ClusterInfo
    view: int  # the deployment's stats (without load figures) and its inference ownership, digested
    autoscalers: tuple[str, ...]


@dataclass
class Entry:
    uid: str
    body: Mapping[str, Any]
    generation: int = 0
    passed_generation: int = 0  # the generation the last completed pass decided on
    cluster_key: str | None = None  # the pooled client's key (snapshots are cached per key)
    config: ConnectionConfig | None = None  # the last connection that resolved (kept for deletion)
    secrets_fingerprint: str | None = None
    last_assignment: Assignment | None = None
    failure: ActionFailure | None = None
    failed_polls: int = 0  # consecutive passes whose connect or poll failed
    jitter: float = 0.5  # drawn once per failure, so the planned retry moment stays put across passes
    written_status: Mapping[str, Any] | None = None
    parsed: tuple[int, ModelDeploymentSpec | SpecError] | None = None  # (generation, its spec parsed)
    quiet: Quiet | None = None  # what the last full pass saw, when it ended quietly (see controller/quiet.py)

    @property
    def meta(self) -> Mapping[str, Any]:
        meta = self.body.get("metadata")
        return meta if isinstance(meta, Mapping) else {}

    @property
    def name(self) -> str:
        """``namespace/name``, for logs and messages."""
        return f"{self.meta.get('namespace')}/{self.meta.get('name')}"

    @property
    def stored_status(self) -> dict[str, Any]:
        """The part of ``.status`` the operator owns, as last written or seen."""
        status = self.written_status if self.written_status is not None else self.body.get("status")
        return comparable_status(status)


def comparable_status(status: Mapping[str, Any] | None) -> dict[str, Any]:
    """The part of ``.status`` the operator owns (older versions kept kopf bookkeeping under ``kopf``)."""
    return {k: v for k, v in (status or {}).items() if k != KOPF_STATUS_KEY}


@dataclass(frozen=True)
class Connection:
    """What resolving a spec's connection taught the entry."""

    config: ConnectionConfig | None  # None: it did not resolve (a missing Secret, ...): the entry has no cluster
    secrets_fingerprint: str | None = None  # of the Secrets ``config`` was built from
    secrets_changed: bool = False  # a referenced Secret changed: the last failure is forgotten (retry at once)


@dataclass(frozen=True)
class Observed:
    """What one pass learned: the observation ``decide`` gets, the client to act through, and the connection
    the entry remembers (see :func:`remember`)."""

    observation: Observation
    client: ElasticsearchClient | None = None
    info: ClusterInfo | None = None
    change_key: ClaimKey | None = None  # (cluster identity, deployment id), once connected
    connection: Connection | None = None  # None: not resolved (an invalid spec)


def generation_of(body: Mapping[str, Any]) -> int:
    meta = body.get("metadata")
    return int((meta.get("generation") if isinstance(meta, Mapping) else None) or 0)


def spec_of(entry: Entry, body: Mapping[str, Any] | None = None) -> ModelDeploymentSpec | SpecError:
    """``body``'s spec (the entry's latest by default) parsed, or why it cannot be, once per generation.

    Kubernetes bumps ``metadata.generation`` on every spec change, so the generation keys the parse; a body
    without one is parsed every time."""
    body = entry.body if body is None else body
    generation = generation_of(body)
    cached = entry.parsed
    if cached is not None and generation > 0 and cached[0] == generation:
        return cached[1]
    parsed = parse_or_error(body.get("spec") or {})
    entry.parsed = (generation, parsed)
    return parsed


def trimmed(body: Mapping[str, Any]) -> dict[str, Any]:
    """What the next pass needs of a watched ``body`` (:data:`KEPT_FIELDS`, :data:`KEPT_METADATA`, the operator's
    own annotations): a resource's memory is then its spec and status, not the whole object. The spec and status
    are shared with ``body``, not copied."""
    meta = body.get("metadata")
    meta = meta if isinstance(meta, Mapping) else {}
    kept = {key: meta[key] for key in KEPT_METADATA if key in meta}
    annotations = kept.pop("annotations", None)
    if isinstance(annotations, Mapping):
        own = {key: value for key, value in annotations.items() if str(key).startswith(OWN_ANNOTATIONS)}
        if own:
            kept["annotations"] = own
    result = {key: body[key] for key in KEPT_FIELDS if key in body}
    result["metadata"] = kept
    return result


def delivered(entry: Entry, body: Mapping[str, Any]) -> None:
    """The watch delivered ``body``: a new generation forgets an older generation's failure (retry at once); the
    status last written is forgotten once ``body`` carries it (one copy of the status, not two)."""
    generation = generation_of(body)
    entry.body = body
    if entry.written_status is not None and comparable_status(body.get("status")) == entry.written_status:
        entry.written_status = None
    if generation != entry.generation:
        entry.generation = generation
        if entry.failure is not None and entry.failure.generation != generation:
            entry.failure = None


def ended(entry: Entry, quiet: Quiet | None) -> None:
    """A full pass ended: quietly (``quiet``, what it saw) or not (``None``: the next pass is a full one too)."""
    entry.quiet = quiet


def wrote(entry: Entry, status: Mapping[str, Any]) -> None:
    """``status`` was written: the next pass compares with it until the watch delivers it (:func:`delivered`)."""
    entry.written_status = dict(status)


def remember(
    entry: Entry,
    observed: Observed,
    outcome: Outcome | None,
    *,
    decided: int | None = None,
    draw: Callable[[], float] | None = None,
) -> Outcome | None:
    """Apply what a pass observed and the outcome of its action; the outcome as remembered (a failure with its
    attempt counted, which :func:`~esml_operator.reconcile.settle` decides with).

    ``decided``: the generation the pass decided on. A failure draws a fresh jitter; a failed connect or poll
    counts as a failed poll (``failed_polls``, which ``decide`` backs off by), a successful one resets it.
    """
    draw = draw or random.random
    _learn(entry, observed, draw)
    if decided is not None:
        entry.passed_generation = decided
    if isinstance(outcome, Succeeded):
        entry.failure = None
        if outcome.assignment is not None:
            entry.last_assignment = outcome.assignment
    elif isinstance(outcome, Failed):
        previous, failure = entry.failure, outcome.failure
        if previous is not None and previous.action == failure.action:
            failure = replace(failure, attempts=previous.attempts + failure.attempts)
        entry.failure, entry.jitter = failure, draw()
        return Failed(failure)
    return outcome


def _learn(entry: Entry, observed: Observed, draw: Callable[[], float]) -> None:
    connection = observed.connection
    if connection is not None and connection.secrets_changed:
        entry.failure = None
    if connection is not None and connection.config is None:
        entry.cluster_key = None
    elif connection is not None and connection.config is not None:
        entry.cluster_key, entry.config = connection.config.key, connection.config
        entry.secrets_fingerprint = connection.secrets_fingerprint
    if observed.observation.fetch_error is None:
        entry.failed_polls = 0
    else:
        entry.failed_polls, entry.jitter = entry.failed_polls + 1, draw()
