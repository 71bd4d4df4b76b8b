"""A resync round without a pass per steady resource: one sweep per Elasticsearch cluster.

A resource whose last pass ended quietly (:mod:`.quiet`) needs no pass of its own in a resync round unless
something it saw has changed. The round groups such resources by cluster and runs one sweep per cluster: the
first check takes the round's poll (shared, as every pass's is), each resource is compared with its mark in
turn, and only the ones that differ are queued for a full pass. Every other resource is queued as before. A
sweep only reads, so it runs beside the work queue; a resource with a pass queued or under way is skipped (that
pass will look), and a cluster whose sweep from the last round is still going (a slow poll) is not swept twice.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Awaitable, Callable, Iterable

from esml_operator.controller.memory import Entry

logger = logging.getLogger(__name__)

Check = Callable[[Entry], Awaitable[bool]]  # True: nothing changed (the pass is recorded as ``unchanged``)


class Sweeper:
    def __init__(self, check: Check) -> None:
        self._check = check
        self._sweeps: dict[str, asyncio.Task[None]] = {}  # cluster key -> its sweep under way

    def round(self, entries: Iterable[Entry], queue: Callable[[str], None], busy: Callable[[str], bool]) -> None:
        """Queue (``queue``) every entry that needs a pass; quiet ones are swept per cluster first."""
        by_cluster: dict[str, list[Entry]] = {}
        for entry in entries:
            if entry.quiet is None:
                queue(entry.uid)
            else:
                by_cluster.setdefault(entry.quiet.config.key, []).append(entry)
        for key, members in by_cluster.items():
            if key in self._sweeps:
                continue  # the last round's sweep still waits for this cluster
            task = asyncio.create_task(self._sweep(members, queue, busy), name="esml-sweep")
            self._sweeps[key] = task
            task.add_done_callback(functools.partial(self._ended, key))

    def cancel(self) -> None:
        """Stop every sweep (leadership lost, or shutdown): their resources get passes in the next round."""
        for task in self._sweeps.values():
            task.cancel()

    async def close(self) -> None:
        tasks = list(self._sweeps.values())
        self.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _sweep(self, entries: list[Entry], queue: Callable[[str], None], busy: Callable[[str], bool]) -> None:
        for entry in entries:
            if busy(entry.uid):
                continue
            try:
                same = await self._check(entry)
            except Exception:  # the full pass meets the same problem and reports it
                logger.debug("%s: the resync check failed; a full pass follows", entry.name, exc_info=True)
                same = False
            if not same:
                queue(entry.uid)

    def _ended(self, key: str, task: asyncio.Task[None]) -> None:
        if self._sweeps.get(key) is task:
            del self._sweeps[key]
        if not task.cancelled() and task.exception() is not None:
            logger.error("a resync sweep failed: %r", task.exception())
