"""One ``_stats`` poll per Elasticsearch cluster, shared by every resource using it.

A caller asks for a snapshot "taken after time T". If the cached one is new
enough it is returned at once; otherwise one fetch is started (or joined, if
one is already under way) — never more often than ``min_interval`` per
cluster. So however many resources reconcile, each cluster sees O(1) calls per
interval. A failed fetch is remembered, and the cluster is not polled again
before ``min_interval`` doubled per consecutive failure (at most
``max_backoff``) or its ``Retry-After``, counted from the failure: every
resource that retries meanwhile gets the remembered failure, so a dead cluster
costs one attempt per back-off step however many resources use it. A failure
counts as "taken after time T" when it came after T: a poll that timed out
after T says the cluster did not answer at T, even if the request was sent
before (a timeout longer than the resync interval spans rounds).
"""

from __future__ import annotations

import asyncio
import copy
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from esml_operator.elasticsearch.models import ClusterSnapshot

Fetch = Callable[[], Awaitable[ClusterSnapshot]]


@dataclass(frozen=True)
class Taken:
    snapshot: ClusterSnapshot
    started: float  # monotonic time the request was sent: everything before it is reflected
    at: datetime  # wall-clock time of the same moment


class _Slot:
    def __init__(self) -> None:
        self.latest: Taken | None = None
        self.failed: tuple[float, Exception] | None = None  # (monotonic end, error) of the last failed poll
        self.retry_at = float("-inf")  # no poll before this (monotonic): back-off or Retry-After after a failure
        self.failures = 0  # consecutive failed fetches
        self.inflight: asyncio.Task[Taken] | None = None
        self.last_start = float("-inf")


class SnapshotCache:
    def __init__(
        self,
        *,
        min_interval: float,
        max_backoff: float | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._min_interval = min_interval
        self._max_backoff = max_backoff if max_backoff is not None else 30 * min_interval
        self._clock = clock
        self._sleep = sleep
        self._slots: dict[str, _Slot] = {}
        self.fetches = 0  # total fetches started (for benchmarks and tests)

    def forget(self, key: str) -> None:
        slot = self._slots.pop(key, None)
        if slot is not None and slot.inflight is not None:
            slot.inflight.cancel()

    def cancel_polls(self) -> None:
        """Cancel every fetch under way, keeping the snapshots (leadership lost: a deposed leader sends nothing
        more; its passes are cancelled, and a fetch they shared would otherwise finish on its own)."""
        for slot in self._slots.values():
            if slot.inflight is not None:
                slot.inflight.cancel()

    def close(self) -> None:
        """Cancel every fetch under way (operator shutdown)."""
        for key in list(self._slots):
            self.forget(key)

    def keys(self) -> list[str]:
        return list(self._slots)

    def busy(self, key: str) -> bool:
        """Whether a fetch of cluster ``key`` is under way (a pass waits for it)."""
        slot = self._slots.get(key)
        return slot is not None and slot.inflight is not None

    def latest(self, key: str) -> Taken | None:
        slot = self._slots.get(key)
        return slot.latest if slot is not None else None

    async def get(self, key: str, fetch: Fetch, *, newer_than: float) -> Taken:
        """A snapshot of cluster ``key`` whose request started at or after ``newer_than`` (monotonic)."""
        slot = self._slots.setdefault(key, _Slot())
        while True:
            if slot.latest is not None and slot.latest.started >= newer_than:
                return slot.latest
            if slot.failed is not None and slot.failed[0] >= newer_than:
                raise copy.copy(slot.failed[1])
            task = slot.inflight
            if task is not None:
                taken = await asyncio.shield(task)
                if taken.started >= newer_than:
                    return taken
                continue  # it started too early for us; loop to start (or join) a newer one
            if slot.failed is not None and self._clock() < slot.retry_at:
                raise copy.copy(slot.failed[1])  # backing off (or Elasticsearch said when to come back)
            wait = slot.last_start + self._min_interval - self._clock()
            if wait > 0:
                await self._sleep(wait)
                continue
            slot.inflight = asyncio.create_task(self._fetch(slot, fetch))
            slot.inflight.add_done_callback(_retrieve)
            try:
                taken = await asyncio.shield(slot.inflight)
            finally:
                if slot.inflight is not None and slot.inflight.done():
                    slot.inflight = None
            return taken

    async def _fetch(self, slot: _Slot, fetch: Fetch) -> Taken:
        started = self._clock()
        slot.last_start = started
        at = datetime.now(UTC)
        self.fetches += 1
        try:
            snapshot = await fetch()
        except Exception as error:
            failed = self._clock()  # a timeout ends long after the request began: back off from the failure
            slot.failed, slot.failures = (failed, error), slot.failures + 1
            retry_after = getattr(error, "retry_after", None)
            wait = self._backoff(slot.failures)
            if isinstance(retry_after, int | float):
                wait = max(wait, retry_after)
            slot.retry_at = failed + wait
            raise
        finally:
            slot.inflight = None
        slot.failed, slot.failures = None, 0
        taken = Taken(snapshot, started, at)
        if slot.latest is None or slot.latest.started <= started:
            slot.latest = taken
        return taken

    def _backoff(self, failures: int) -> float:
        """Seconds before the next fetch after ``failures`` consecutive failed ones."""
        return min(self._max_backoff, self._min_interval * 2.0 ** min(failures - 1, 30))


def _retrieve(task: asyncio.Task[Taken]) -> None:
    """Mark a fetch's failure as seen: its waiters may all have been cancelled (shutdown)."""
    if not task.cancelled():
        task.exception()
