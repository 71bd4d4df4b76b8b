"""When may a failed call be retried? :func:`advise` is the one answer, for reconcile and deletion alike.

Temporary failures: exponential back-off with full jitter (``jitter`` in
[0, 1) scales the whole window), base 1 s, factor 2, cap 5 min, and never
earlier than the server's ``Retry-After``. Permanent failures: not before one
resync interval has passed (or the spec generation changes, which makes the
failure irrelevant).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from esml_operator.elasticsearch.errors import (
    ConflictError,
    ElasticsearchError,
    NotFoundError,
    TooManyRequestsError,
    UnsupportedVersionError,
)

from .model import ActionFailure
from .timeutil import as_utc

BACKOFF_BASE_SECONDS = 1.0
BACKOFF_FACTOR = 2.0
BACKOFF_CAP_SECONDS = 300.0
UNSUPPORTED_VERSION = "UnsupportedElasticsearchVersion"


@dataclass(frozen=True)
class RetryAdvice:
    """Whether a failure is worth retrying without an outside change, and after how long."""

    permanent: bool  # retrying without an outside change is pointless (retried once per resync interval)
    capacity: bool  # the ML nodes are full: retried with back-off, reported as Stalled meanwhile
    delay: float  # seconds after the failure before the next attempt


def advise(
    error: ElasticsearchError, *, attempts: int, action: str, start_policy: str, resync_interval: float, jitter: float
) -> RetryAdvice:
    """The retry advice for the ``attempts``-th consecutive failure of ``action`` ("start", "update",
    "stop", or "poll" for connecting and polling).

    Temporary failures back off exponentially with full jitter; permanent ones
    wait one resync interval; ``Retry-After`` is a floor for both.
    """
    permanent = is_permanent(error, start_policy=start_policy)
    delay = resync_interval if permanent else backoff_seconds(attempts, jitter)
    if error.retry_after is not None:
        delay = max(delay, error.retry_after)
    return RetryAdvice(permanent=permanent, capacity=is_capacity_error(error, action), delay=delay)


def is_permanent(error: ElasticsearchError, *, start_policy: str) -> bool:
    """Whether retrying without an outside change is pointless.

    404 is permanent only under ``startPolicy: Never``: with ``IfMissing`` a
    vanished deployment is started again and a model that is still being
    uploaded may appear, so it is retried with back-off. A 409 for a
    deployment owned by an inference endpoint never resolves by waiting.
    """
    if isinstance(error, NotFoundError):
        return start_policy == "Never"
    if isinstance(error, ConflictError):
        return "inference endpoint" in (error.reason or error.message)
    return not error.temporary


def is_capacity_error(error: ElasticsearchError, action: str) -> bool:
    """429 on start/update: the ML nodes are full (or the 100-deployment cap is reached)."""
    return isinstance(error, TooManyRequestsError) and action in ("start", "update")


def error_reason(error: ElasticsearchError) -> str:
    """The condition reason for an error: the ES ``error.type``, else a class-derived name."""
    if isinstance(error, UnsupportedVersionError) and not error.error_type:
        return UNSUPPORTED_VERSION
    return error.condition_reason


def backoff_seconds(attempts: int, jitter: float) -> float:
    """Full-jitter exponential back-off for the ``attempts``-th consecutive failure."""
    exponent = max(attempts, 1) - 1
    window = BACKOFF_CAP_SECONDS if exponent >= 16 else BACKOFF_BASE_SECONDS * BACKOFF_FACTOR**exponent
    window = min(BACKOFF_CAP_SECONDS, window)
    return min(max(jitter, 0.0), 1.0) * window


def retry_at(failure: ActionFailure, advice: RetryAdvice) -> datetime:
    """The earliest moment the failed action may be attempted again."""
    return as_utc(failure.at) + timedelta(seconds=advice.delay)
