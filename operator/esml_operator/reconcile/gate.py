"""Whether a planned action may be sent now.

After a failed attempt of the same action (same spec generation) the action
waits for its back-off (see :mod:`.backoff`) and for an observation newer than
the failure. After any successful change it waits for an observation newer
than ``lastUpdateTime``: acting on an older snapshot would, for example, start
a deployment a second time (400) right after it was started.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from .backoff import error_reason, is_capacity_error, is_permanent, retry_at
from .conditions import Verdict
from .model import Action, Observation, ResourceRef
from .spec import ModelDeploymentSpec
from .timeutil import as_utc, format_time, parse_time

#: Seconds until the next look while Elasticsearch is converging (starting, allocating, after an action).
PROGRESS_REQUEUE_SECONDS = 10.0


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


def gate(ctx: Context, candidate: Action) -> Action | None:
    """Whether the planned action may be sent now: back-off after a failure, fresh observation."""
    spec, observation, verdict, now = ctx.spec, ctx.observation, ctx.verdict, ctx.now
    failure = observation.last_failure
    snapshot_at = as_utc(observation.snapshot_at) if observation.snapshot_at is not None else None
    if failure is not None and failure.generation == ctx.ref.generation and failure.action == candidate.kind:
        error = failure.error
        permanent = is_permanent(error, start_policy=spec.start_policy)
        reason = error_reason(error)
        message = f"Failed to {failure.action} deployment [{spec.deployment_id}]: {error.message}"
        verdict.not_ready(reason, message, warning=True)
        when = retry_at(failure, permanent=permanent, resync_interval=ctx.resync_interval, jitter=ctx.jitter)
        if now < when:
            wait = (when - now).total_seconds()
            if permanent:
                verdict.stalled(reason, f"{message}; not retried before {format_time(when)} unless the spec changes")
                verdict.requeue(wait)
            elif is_capacity_error(error, failure.action):
                verdict.stalled(reason, f"{message}; retrying with back-off until capacity is available")
                verdict.requeue(wait)
            else:
                verdict.progressing(
                    "ProgressingWithRetry",
                    f"Backing off after {failure.attempts} failed attempt(s)",
                    requeue_after=wait,
                )
            return None
        if snapshot_at is not None and snapshot_at < as_utc(failure.at):
            verdict.progressing(
                "AwaitingObservation",
                "Waiting for an Elasticsearch poll newer than the failed attempt before retrying",
                requeue_after=PROGRESS_REQUEUE_SECONDS,
            )
            return None
        verdict.progressing(
            "ProgressingWithRetry",
            f"Retrying after {failure.attempts} failed attempt(s)",
            requeue_after=PROGRESS_REQUEUE_SECONDS,
        )
    last_update = parse_time((ctx.previous_status or {}).get("lastUpdateTime"))
    if snapshot_at is not None and last_update is not None and snapshot_at < last_update + timedelta(seconds=1):
        verdict.progressing(
            "AwaitingObservation",
            f"Waiting for an Elasticsearch poll newer than the last change ({format_time(last_update)})",
            requeue_after=PROGRESS_REQUEUE_SECONDS,
        )
        return None
    return candidate
