"""Events are posted after the pass that decided them, not inside it.

An Event says what a pass did; nothing the next pass does depends on it having landed. So the pass
hands its Events to an :class:`EventPoster` and ends: a newer change of the same resource, queued
right behind the pass, no longer waits for one or two Event POSTs to the API server first (issue 23:
the second change of a back-to-back pair did).

- **In order per resource.** A resource's Events are posted in the order its passes decided them
  (each batch waits for the one before it).
- **Bounded.** At most ``backlog`` batches are queued or under way (each sends as soon as the resource's
  batch before it is done; the Kubernetes client's connection pool bounds the requests in flight). Beyond
  that, :meth:`EventPoster.post` queues the batch and waits until it is sent, as a pass did before Events
  left it: the passes slow down to the API server's pace, and nothing is dropped.
- **Only by the leader.** Every Event is sent through the fence (``send`` does that), and
  :meth:`EventPoster.cancel` (on loss of leadership) drops every batch not yet sent: a deposed leader
  posts nothing more. The new leader's passes say again what is still true.
- **Best effort, as before.** ``send`` logs a failed POST and does not raise; a batch cut off by the
  fence is logged and dropped.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

from esml_operator.controller.fence import Deposed
from esml_operator.reconcile import Event

logger = logging.getLogger(__name__)

#: ``send(body, event)``: posts one Event about the resource whose body (as the pass saw it) is ``body``.
Send = Callable[[Mapping[str, Any], Event], Awaitable[None]]

#: Event batches queued or under way before a pass waits for its own (see the module's docstring).
BACKLOG = 1024


class EventPoster:
    def __init__(self, send: Send, *, backlog: int = BACKLOG) -> None:
        self._send, self._backlog = send, max(1, backlog)
        self._last: dict[str, asyncio.Task[None]] = {}  # resource key -> its latest batch
        self._tasks: set[asyncio.Task[None]] = set()
        self.posted = 0  # Events sent (tests and benchmarks)

    def pending(self) -> int:
        """Batches not yet posted."""
        return len(self._tasks)

    async def post(self, key: str, body: Mapping[str, Any], events: Sequence[Event]) -> None:
        """Queue ``events`` about the resource ``key`` (its uid); returns once they are queued, not sent (with a
        full backlog: once they are sent)."""
        if not events:
            return
        full = len(self._tasks) >= self._backlog
        task = asyncio.create_task(self._run(self._last.get(key), body, tuple(events)), name=f"esml-events-{key}")
        self._last[key] = task
        self._tasks.add(task)
        task.add_done_callback(lambda done: self._done(key, done))
        if full:
            await asyncio.wait([task])

    async def _run(self, before: asyncio.Task[None] | None, body: Mapping[str, Any], events: tuple[Event, ...]) -> None:
        try:
            if before is not None:
                await asyncio.wait([before])  # its own outcome is its own: only the order matters here
            for event in events:
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
