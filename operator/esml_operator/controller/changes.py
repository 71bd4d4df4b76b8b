"""What the operator changed in Elasticsearch, per (cluster, deployment), and its change budget.

Kept by cluster identity and deployment id, not by resource: a resource
re-created right after its deployment was stopped still knows that the stop
happened, so an older snapshot cannot make it report a deployment that is gone.
Entries expire (``cachetools.TTLCache``): once a poll newer than a change has
been taken, the change itself no longer matters.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime

from cachetools import TTLCache

from esml_operator.elasticsearch.models import Assignment
from esml_operator.reconcile import Action, RecentAction
from esml_operator.reconcile import throttle as bucket

Key = tuple[str, str]  # (cluster identity, deployment id)
MAX_DEPLOYMENTS = 100_000


class ChangeLog:
    def __init__(self, *, burst: int, rate: float, ttl: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._burst, self._rate, self._clock = burst, rate, clock
        self._recent: TTLCache[Key, tuple[RecentAction, float]] = TTLCache(MAX_DEPLOYMENTS, ttl, timer=clock)
        self._buckets: TTLCache[Key, bucket.Bucket] = TTLCache(MAX_DEPLOYMENTS, ttl, timer=clock)

    def recent(self, key: Key) -> RecentAction | None:
        found = self._recent.get(key)
        return found[0] if found is not None else None

    def recent_monotonic(self, key: Key) -> float | None:
        """When the last change was answered, on the monotonic clock (snapshots are compared on it)."""
        found = self._recent.get(key)
        return found[1] if found is not None else None

    def throttle_wait(self, key: Key) -> float:
        current = self._buckets.get(key)
        if current is None:
            return 0.0
        return bucket.wait_for_token(current, self._clock(), burst=self._burst, rate=self._rate)

    def record(
        self, key: Key, kind: str, assignment: Assignment | None, at: datetime, action: Action | None = None
    ) -> None:
        now = self._clock()
        self._recent[key] = (RecentAction(kind, at, assignment, action), now)
        current = self._buckets.get(key) or bucket.full(self._burst, now)
        self._buckets[key] = bucket.take(current, now, burst=self._burst, rate=self._rate)
