"""Whether a planned action may be sent now.

* After a failed attempt of the same action (same spec generation) the action
  waits for its retry advice (see :func:`.backoff.advise`) and for an
  observation newer than the failure.
* Changes to one deployment are coalesced: once its change budget (a token
  bucket kept by the runtime) is spent, the action waits ``throttle_wait``
  seconds and is then sent with the latest spec.
* A snapshot older than the operator's own last change is never acted on by
  itself: the runtime substitutes the ``_start``/``_update`` answer for it (see
  :mod:`.observed`). With no change in memory (a fresh process), a snapshot that
  is not provably newer than ``status.lastUpdateTime`` is not acted on either.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from .backoff import advise, error_reason, retry_at
from .conditions import Verdict
from .model import Action, ActionFailure, Observation, ResourceRef
from .spec import ModelDeploymentSpec
from .timeutil import as_utc, format_time, parse_time

#: Seconds until the next look while Elasticsearch is converging (starting, allocating, after an action).
PROGRESS_REQUEUE_SECONDS = 10.0
#: Seconds until the next look while waiting for a poll newer than something the operator knows happened.
AWAIT_REQUEUE_SECONDS = 1.0


@dataclass(frozen=True)
class Context:
    spec: ModelDeploymentSpec
    ref: ResourceRef
    observation: Observation
    previous_status: Mapping[str, Any] | None
    now: datetime
    resync_interval: float
    jitter: float
    verdict: Verdict


def report_failure(
    verdict: Verdict,
    failure: ActionFailure,
    spec: ModelDeploymentSpec,
    now: datetime,
    *,
    resync_interval: float,
    jitter: float,
) -> bool:
    """Record a failed action on ``verdict``; ``True`` while its retry moment has not come yet.

    A failure that progress cannot overcome (permanent, or a lack of capacity) is ``Stalled`` until it is
    resolved, also while it is being retried, so the condition does not flip on every attempt."""
    error = failure.error
    advice = advise(
        error,
        attempts=failure.attempts,
        action=failure.action,
        start_policy=spec.start_policy,
        resync_interval=resync_interval,
        jitter=jitter,
    )
    reason = error_reason(error)
    message = f"Failed to {failure.action} deployment [{spec.deployment_id}]: {error.message}"
    verdict.not_ready(reason, message, warning=True)
    when = retry_at(failure, advice)
    if advice.permanent:
        verdict.stalled(reason, f"{message}; not retried before {format_time(when)} unless the spec changes")
    elif advice.capacity:
        verdict.stalled(reason, f"{message}; retrying with back-off until capacity is available")
    if now >= when:
        return False
    wait = (when - now).total_seconds()
    if advice.permanent or advice.capacity:
        verdict.requeue(wait)
    else:
        verdict.progressing(
            "ProgressingWithRetry", f"Backing off after {failure.attempts} failed attempt(s)", requeue_after=wait
        )
    return True


def _waiting(verdict: Verdict, reason: str, message: str, requeue_after: float) -> None:
    """A wait before the action: progress, unless the pass found a stall (then the stall stands, unchanged)."""
    if verdict.stall is None:
        verdict.progressing(reason, message, requeue_after=requeue_after)
    else:
        verdict.requeue(requeue_after)


def gate(ctx: Context, candidate: Action) -> Action | None:
    """Whether the planned action may be sent now: back-off after a failure, fresh observation, coalescing."""
    observation, verdict = ctx.observation, ctx.verdict
    failure = observation.last_failure
    snapshot_at = as_utc(observation.snapshot_at) if observation.snapshot_at is not None else None
    if failure is not None and failure.generation == ctx.ref.generation and failure.action == candidate.kind:
        waiting = report_failure(
            verdict, failure, ctx.spec, ctx.now, resync_interval=ctx.resync_interval, jitter=ctx.jitter
        )
        if waiting:
            return None
        # Still retrying: the same reason as while backing off.
        if snapshot_at is not None and snapshot_at < as_utc(failure.at):
            _waiting(
                verdict,
                "ProgressingWithRetry",
                "Waiting for an Elasticsearch poll newer than the failed attempt before retrying",
                AWAIT_REQUEUE_SECONDS,
            )
            return None
        _waiting(
            verdict,
            "ProgressingWithRetry",
            f"Retrying after {failure.attempts} failed attempt(s)",
            PROGRESS_REQUEUE_SECONDS,
        )
    last_update = parse_time((ctx.previous_status or {}).get("lastUpdateTime"))
    if (
        observation.recent is None
        and snapshot_at is not None
        and last_update is not None
        and snapshot_at < last_update + timedelta(seconds=1)
    ):
        _waiting(
            verdict,
            "AwaitingObservation",
            f"Waiting for an Elasticsearch poll newer than the last change ({format_time(last_update)})",
            AWAIT_REQUEUE_SECONDS,
        )
        return None
    if observation.throttle_wait > 0:
        _waiting(
            verdict,
            "Coalescing",
            f"Changes to deployment [{ctx.spec.deployment_id}] are coalesced; sending the latest spec in "
            f"{observation.throttle_wait:.2f}s",
            observation.throttle_wait,
        )
        return None
    return candidate
