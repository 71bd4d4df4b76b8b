"""Coalescing bursts of changes to one deployment: a token bucket, as pure functions of time.

A deployment may receive ``burst`` changes at once; after that one change per
``1 / rate`` seconds. A change that must wait is not queued: the next pass
sends whatever the spec says then, so a burst collapses into one call with the
latest value.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Bucket:
    tokens: float
    at: float  # monotonic seconds of the last refill


def full(burst: int, now: float) -> Bucket:
    return Bucket(float(burst), now)


def refill(bucket: Bucket, now: float, *, burst: int, rate: float) -> Bucket:
    elapsed = max(0.0, now - bucket.at)
    return Bucket(min(float(burst), bucket.tokens + elapsed * rate), max(now, bucket.at))


def wait_for_token(bucket: Bucket, now: float, *, burst: int, rate: float) -> float:
    """Seconds until one change may be sent (0 when one may be sent now)."""
    tokens = refill(bucket, now, burst=burst, rate=rate).tokens
    return 0.0 if tokens >= 1.0 else (1.0 - tokens) / rate


def take(bucket: Bucket, now: float, *, burst: int, rate: float) -> Bucket:
    """The bucket after one change was sent at ``now``."""
    filled = refill(bucket, now, burst=burst, rate=rate)
    return Bucket(max(0.0, filled.tokens - 1.0), filled.at)
