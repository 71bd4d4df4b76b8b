"""Events are posted after the pass that decided them, not inside it.

An Event says what a pass did; nothing the next pass does depends on it having landed. So the pass
hands its Events to an :class:`EventPoster` and ends: a newer change of the same resource, queued
right behind the pass, no longer waits for one or two Event POSTs to the API server first (issue 23:
the second change of a back-to-back pair did).

- **In order per resource.** A resource's Events are posted in the order its passes decided them
  (each batch waits for the one before it).
- **Bounded, and never in the way.** At most ``in_flight`` Events are being sent at once (the status
  patches the passes send must not wait behind them for one of the Kubernetes client's connections), and
  at most ``backlog`` batches wait. When the API server cannot keep up and the backlog is full, a new
  batch is dropped, counted (``dropped``, served as ``esml_events_dropped_total``) and logged at most once
  a minute, as client-go's event recorder drops Events when its queue is full: the pass never waits for
  an Event. Status is what a user and a tool read; Events are best effort in Kubernetes.
- **Only by the leader.** Every Event is sent through the fence (``send`` does that), and
  :meth:`EventPoster.cancel` (on loss of leadership) drops every batch not yet sent: a deposed leader
  posts nothing more. The new leader's passes say again what is still true.
- **Best effort, as before.** ``send`` logs a failed POST and does not raise; a batch cut off by the
  fence is logged and dropped.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

from esml_operator.controller.fence import Deposed
from esml_operator.reconcile import Event

logger = logging.getLogger(__name__)

#: ``send(body, event)``: posts one Event about the resource whose body (as the pass saw it) is ``body``.
Send = Callable[[Mapping[str, Any], Event], Awaitable[None]]

#: Events sent at once, and batches queued at most (see the module's docstring).
IN_FLIGHT = 8
BACKLOG = 1024
#: Seconds between two warnings about dropped Events.
WARN_EVERY = 60.0


class EventPoster:
    def __init__(self, send: Send, *, in_flight: int = IN_FLIGHT, backlog: int = BACKLOG) -> None:
        self._send, self._backlog = send, max(1, backlog)
        self._slots = asyncio.Semaphore(max(1, in_flight))
        self.dropped = 0  # Event batches dropped with a full backlog (esml_events_dropped_total)
        self._warned_at, self._unwarned = float("-inf"), 0
        self._last: dict[str, asyncio.Task[None]] = {}  # resource key -> its latest batch
        self._tasks: set[asyncio.Task[None]] = set()
        self.posted = 0  # Events sent (tests and benchmarks)

    def pending(self) -> int:
        """Batches not yet posted."""
        return len(self._tasks)

    def post(self, key: str, body: Mapping[str, Any], events: Sequence[Event]) -> None:
        """Queue ``events`` about the resource ``key`` (its uid), or drop them when the backlog is full."""
        if not events:
            return
        if len(self._tasks) >= self._backlog:
            self._drop(len(events))
            return
        task = asyncio.create_task(self._run(self._last.get(key), body, tuple(events)), name=f"esml-events-{key}")
        self._last[key] = task
        self._tasks.add(task)
        task.add_done_callback(lambda done: self._done(key, done))

    def _drop(self, events: int) -> None:
        self.dropped += 1
        self._unwarned += events
        now = time.monotonic()
        if now - self._warned_at >= WARN_EVERY:
            logger.warning(
                "%d Event(s) dropped: %d batches wait for the API server already (status is still written)",
                self._unwarned,
                self._backlog,
            )
            self._warned_at, self._unwarned = now, 0

    async def _run(self, before: asyncio.Task[None] | None, body: Mapping[str, Any], events: tuple[Event, ...]) -> None:
        try:
            if before is not None:
                await asyncio.wait([before])  # its own outcome is its own: only the order matters here
            for event in events:
                async with self._slots:
                    await self._send(body, event)
                self.posted += 1
        except Deposed as stopped:
            logger.info("events not posted: %s", stopped)

    def _done(self, key: str, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if self._last.get(key) is task:
            del self._last[key]
        if not task.cancelled() and task.exception() is not None:
            logger.error("posting events failed", exc_info=task.exception())

    async def drain(self) -> None:
        """Wait until every queued Event was posted (or dropped)."""
        while self._tasks:
            await asyncio.wait(set(self._tasks))

    def cancel(self) -> None:
        """Drop every batch not yet sent, and cut off those under way (loss of leadership)."""
        for task in self._tasks:
            task.cancel()

    async def flush(self, within: float) -> None:
        """Post what is queued, waiting at most ``within`` seconds (shutdown, while still leading)."""
        try:
            async with asyncio.timeout(within):
                await self.drain()
        except TimeoutError:
            logger.warning("%d event batch(es) not posted before shutdown", len(self._tasks))

    async def close(self, within: float) -> None:
        """Shutdown: post what is queued, for at most ``within`` seconds, then drop the rest."""
        await self.flush(within)
        self.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
