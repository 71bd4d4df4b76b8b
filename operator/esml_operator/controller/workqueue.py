"""A per-key work queue with controller-runtime's guarantees, on asyncio.

* A key is processed by at most one task at a time.
* Adding a key while it is being processed runs it once more afterwards, with
  the latest state: a burst of changes collapses into at most one follow-up.
* The earliest requested time wins.
* There is no global worker limit, so a key waiting on a slow network never
  delays another key; limits that are needed belong to the resource that is
  slow (one Elasticsearch cluster), not to the queue.
* A newer request may preempt the work under way, but only while that work
  is inside a :func:`preemptible` section (it only waits there, for a poll:
  it has written nothing; or it writes what the newer request makes moot: a
  status patch of a generation that a newer one replaces). Its wait is
  cancelled and the key runs again at once with the latest state; work
  outside such a section (an Elasticsearch write, a finalizer) always
  finishes first.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections.abc import Awaitable, Callable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass

logger = logging.getLogger(__name__)

Work = Callable[[str], Awaitable[float | None]]  # returns "run me again after N seconds", or None


@dataclass
class _Running:
    task: asyncio.Task[float | None]
    waiting: bool = False  # inside a preemptible section
    preempted: bool = False
    moot: Callable[[], bool] | None = None  # the section's condition (None: any newer request)


_current: ContextVar[_Running | None] = ContextVar("esml_workqueue_running", default=None)


@contextlib.contextmanager
def preemptible(when: Callable[[], bool] | None = None) -> Iterator[None]:
    """A newer request for the same key may cancel the awaits inside: they only wait (nothing is written), or
    (with ``when``) what they write is moot once ``when()`` holds, as the newer request is made."""
    running = _current.get()
    if running is None or running.task is not asyncio.current_task():
        yield
        return
    running.waiting, running.moot = True, when
    try:
        yield
    finally:
        running.waiting, running.moot = False, None


def preempted() -> bool:
    """Whether the work under way was cancelled by :meth:`WorkQueue.preempt` (not by leadership loss)."""
    running = _current.get()
    return running is not None and running.preempted


class WorkQueue:
    def __init__(self, work: Work) -> None:
        self._work = work
        self._timers: dict[str, tuple[float, asyncio.TimerHandle]] = {}
        self._running: dict[str, _Running] = {}
        self._again: dict[str, float] = {}  # key -> loop time, requested while running
        self._closed = False

    def add(self, key: str, delay: float = 0.0) -> None:
        """Process ``key`` after ``delay`` seconds (an earlier request wins)."""
        if self._closed:
            return
        loop = asyncio.get_running_loop()
        due = loop.time() + max(0.0, delay)
        if key in self._running:
            self._again[key] = min(due, self._again.get(key, due))
            return
        scheduled = self._timers.get(key)
        if scheduled is not None:
            if scheduled[0] <= due:
                return
            scheduled[1].cancel()
        self._timers[key] = (due, loop.call_at(due, self._start, key))

    def preempt(self, key: str) -> bool:
        """Cancel ``key``'s work under way if it only waits (see :func:`preemptible`) and a newer run is queued."""
        running = self._running.get(key)
        if running is None or not running.waiting or key not in self._again:
            return False
        if running.moot is not None and not running.moot():
            return False
        running.waiting, running.preempted = False, True
        running.task.cancel()
        return True

    def forget(self, key: str) -> None:
        """Drop pending work for ``key`` (work under way finishes)."""
        scheduled = self._timers.pop(key, None)
        if scheduled is not None:
            scheduled[1].cancel()
        self._again.pop(key, None)

    def cancel_running(self) -> None:
        """Cancel the work under way (leadership lost); pending timers stay."""
        for running in list(self._running.values()):
            running.task.cancel()

    @property
    def running(self) -> frozenset[str]:
        return frozenset(self._running)

    def pending(self, key: str) -> bool:
        return key in self._timers or key in self._again

    def _start(self, key: str) -> None:
        self._timers.pop(key, None)
        running = _Running(asyncio.create_task(self._run(key), name=f"reconcile-{key}"))
        self._running[key] = running
        # Bookkeeping in a done callback, never in the task's own ``finally``: a task cancelled before its first
        # step (leadership lost the moment it was started) never runs its body, and its key would stay
        # "running" for good, every later request for it parked behind a task that is gone.
        running.task.add_done_callback(functools.partial(self._finished, key, running))

    async def _run(self, key: str) -> float | None:
        running = self._running[key]
        _current.set(running)
        try:
            return await self._work(key)
        except asyncio.CancelledError:
            if running.preempted:
                logger.debug("%s: a newer change preempted the pass (waiting for a poll, or a moot status write)", key)
            return None
        except Exception:
            logger.exception("work on %s failed unexpectedly; it is retried at the next resync", key)
            return None

    def _finished(self, key: str, running: _Running, task: asyncio.Task[float | None]) -> None:
        if self._running.get(key) is running:
            del self._running[key]
        requeue = None if task.cancelled() else task.result()
        again = self._again.pop(key, None)
        if self._closed:
            return
        if again is not None:
            self.add(key, max(0.0, again - asyncio.get_running_loop().time()))
        if requeue is not None:
            self.add(key, requeue)

    async def close(self) -> None:
        self._closed = True
        for _, timer in self._timers.values():
            timer.cancel()
        self._timers.clear()
        tasks = [running.task for running in self._running.values()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
