"""The operator's runtime: the registry of resources and the scheduler of their passes.

kopf feeds watch events into :meth:`Runtime.observe`. A new resource, a new
generation, a deletion or a finalizer change is scheduled at once; the resync
loop schedules every resource each ``resync_interval``. The work queue runs
one pass per resource at a time and coalesces what arrives meanwhile; the
pass itself is :class:`~.reconciler.Reconciler`'s. Only the leader runs
passes; the others keep the registry current so that they can take over.

Catching up after a start (every resource is new to the process) runs at most
``catch_up_limit`` passes at once for the resources whose status already says
their generation was reconciled, so a resource whose spec changed while no
operator ran, or any watch event that needs a pass, does not queue behind
thousands of passes that will find nothing to do.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable, Mapping
from typing import Any

from esml_operator.controller import timing
from esml_operator.controller.memory import Entry
from esml_operator.controller.recorder import NoRecorder, PassRecorder
from esml_operator.controller.registry import Registry
from esml_operator.controller.sweep import Sweeper
from esml_operator.controller.workqueue import WorkQueue, preemptible
from esml_operator.reconcile import ClaimIndex

logger = logging.getLogger(__name__)

Pass = Callable[[Any], Any]  # Reconciler.run: (Entry) -> Awaitable[float | None]


class Runtime:
    def __init__(
        self,
        *,
        run_pass: Pass,
        claims: ClaimIndex,
        names: dict[str, str],
        resync_interval: float,
        leading: Callable[[], bool] = lambda: True,
        on_forget: Callable[[str], None] = lambda uid: None,
        on_resync: Callable[[Registry], None] = lambda registry: None,
        on_round: Callable[[], None] = lambda: None,
        recorder: PassRecorder | None = None,
        registry: Registry | None = None,
        catch_up_limit: int = 32,
        sweeper: Sweeper | None = None,
    ) -> None:
        """``sweeper``: checks steady resources per cluster in a resync round (None: every resource gets a pass)."""
        self.registry = registry if registry is not None else Registry()
        self.queue = WorkQueue(self._work)
        self._run_pass, self._claims, self._names = run_pass, claims, names
        self._resync_interval, self._leading = resync_interval, leading
        self._on_forget, self._on_resync, self._on_round = on_forget, on_resync, on_round
        #: uid -> monotonic time of the earliest watch event not yet handled by a pass that needs action
        #: (reported to the recorder when the first pass that saw it ends: the operator's reaction time).
        self._urgent_since: dict[str, float] = {}
        self._recorder = recorder or NoRecorder()
        self._resync: asyncio.Task[None] | None = None
        self._catch_up = asyncio.Semaphore(catch_up_limit)
        self._sweeper = sweeper

    # -- lifecycle ----------------------------------------------------------------------------
    def start(self) -> None:
        self._resync = asyncio.create_task(self._resync_loop(), name="esml-resync")
        self._resync.add_done_callback(_report_death)

    def healthy(self) -> bool:
        """False once the resync loop has died (liveness)."""
        return self._resync is not None and not self._resync.done()

    async def close(self) -> None:
        if self._resync is not None:
            self._resync.cancel()
            await asyncio.gather(self._resync, return_exceptions=True)
        if self._sweeper is not None:
            await self._sweeper.close()
        await self.queue.close()

    # -- leadership ---------------------------------------------------------------------------
    def started_leading(self) -> None:
        logger.info("leading: reconciling %d resource(s)", len(self.registry))
        for uid in self.registry.uids():
            self.queue.add(uid)

    def stopped_leading(self) -> None:
        logger.warning("no longer leading: stopping every pass under way")
        self.queue.cancel_running()
        if self._sweeper is not None:
            self._sweeper.cancel()

    # -- watch events -------------------------------------------------------------------------
    def observe(self, event_type: str | None, body: Mapping[str, Any]) -> None:
        meta = body.get("metadata") or {}
        uid = str(meta.get("uid", ""))
        if not uid:
            return
        if event_type == "DELETED":
            self.forget(uid)
            return
        entry, urgent = self.registry.observe(body)
        self._names[uid] = entry.name
        if urgent:
            if not _caught_up(entry):  # a catch-up pass is no reaction to anything (see _lane)
                self._urgent_since.setdefault(uid, time.monotonic())
            self.queue.add(uid)
            self.queue.preempt(uid)  # a pass of this resource that only waits for a poll must not hold it

    def forget(self, uid: str) -> None:
        if self.registry.forget(uid) is None:
            return
        self.queue.forget(uid)
        self._names.pop(uid, None)
        self._urgent_since.pop(uid, None)
        for other in self._claims.release(uid):  # a resource in conflict may take over now
            self.queue.add(other)
        self._on_forget(uid)

    # -- passes -------------------------------------------------------------------------------
    async def _work(self, uid: str) -> float | None:
        entry = self.registry.get(uid)
        since = self._urgent_since.pop(uid, None)  # this pass reads the body that event delivered
        if entry is None or not self._leading():
            return None
        record, version = timing.begin(), str(entry.meta.get("resourceVersion", ""))
        try:
            async with self._lane(entry, urgent=since is not None):
                result: float | None = await self._run_pass(entry)
        except asyncio.CancelledError:
            if since is not None:  # the next pass reads this change too (preempted, or the next leader's)
                self._urgent_since[uid] = min(since, self._urgent_since.get(uid, since))
            raise
        except Exception:
            # Never crash, never hot-loop: the resync loop tries again.
            logger.exception("%s: the pass failed unexpectedly; it is retried at the next resync", entry.name)
            return None
        if since is not None:
            self._recorder.observe_reaction(time.monotonic() - since)
            timing.report(entry.name, version, since, record)
        return result

    @contextlib.asynccontextmanager
    async def _lane(self, entry: Entry, *, urgent: bool) -> AsyncIterator[None]:
        """A catch-up pass (the first of a resource in this process, which its status says is reconciled) waits
        for one of ``catch_up_limit`` slots; every other pass runs at once. The wait may be preempted."""
        if urgent or not _caught_up(entry):
            yield
            return
        with preemptible():
            await self._catch_up.acquire()
        try:
            yield
        finally:
            self._catch_up.release()

    async def _resync_loop(self) -> None:
        while True:
            await asyncio.sleep(self._resync_interval)
            self._on_round()
            if self._sweeper is not None and self._leading():
                self._sweeper.round(self.registry, self.queue.add, self._busy)
            else:
                for uid in self.registry.uids():
                    self.queue.add(uid)
            self._on_resync(self.registry)

    def _busy(self, uid: str) -> bool:
        """A pass of ``uid`` is queued or under way, or it was forgotten (deleted) since the round began."""
        return self.queue.pending(uid) or uid in self.queue.running or self.registry.get(uid) is None


def _caught_up(entry: Entry) -> bool:
    """Never passed in this process, and its status says its generation was reconciled (not being deleted)."""
    if entry.passed_generation or entry.meta.get("deletionTimestamp"):
        return False
    return bool(entry.generation) and entry.stored_status.get("observedGeneration") == entry.generation


def _report_death(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        logger.error("the resync loop died: %r; the liveness probe now fails", task.exception())
