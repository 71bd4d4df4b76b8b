"""The operator's memory against its container's limit: a WARNING before an OOM kill, not a silent restart loop.

Memory grows with the number of ModelDeployments watched (docs/operations/sizing.md).
Past the limit the kernel kills the process, it restarts, lists them all again
and is killed again: a loop in which no alert on the resident memory alone stays
pending long enough to fire. So the operator checks its own resident memory
every few seconds and logs a WARNING, with the count of ModelDeployments and
the limit, once when it crosses :data:`NEAR` of the limit, and again only after
it has come back under it. The same figures are served as metrics
(``process_resident_memory_bytes``, ``esml_process_memory_limit_bytes``,
``esml_modeldeployments``) for the alerts in manifests/prometheus.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Callable
from pathlib import Path

from esml_operator.metrics.cgroup import memory_limit_bytes

logger = logging.getLogger(__name__)

#: The fraction of the limit at which the operator warns (the EsmlOperatorMemoryNearLimit alert's too).
NEAR = 0.9
MIB = 1024 * 1024


def resident_bytes(statm: Path = Path("/proc/self/statm")) -> int | None:
    """This process's resident memory (what the kernel counts against the limit), or None off Linux."""
    try:
        return int(statm.read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return None


class MemoryAlarm:
    """Raised once when the resident memory reaches ``near`` of the limit; cleared once it is back under."""

    def __init__(self, near: float = NEAR) -> None:
        self.near = near
        self.raised = False

    def update(self, resident: int | None, limit: int | None) -> bool | None:
        """True when the alarm is raised by this reading, False when cleared, None when nothing changes."""
        if resident is None or limit is None:
            return None
        over = resident >= self.near * limit
        if over == self.raised:
            return None
        self.raised = over
        return over


class MemoryWatch:
    """Checks every ``interval`` seconds; logs the alarm's changes (see the module's doc)."""

    def __init__(
        self,
        resources: Callable[[], int],
        *,
        interval: float = 10.0,
        resident: Callable[[], int | None] = resident_bytes,
        limit: Callable[[], int | None] = memory_limit_bytes,
    ) -> None:
        self._resources, self._interval, self._resident, self._limit = resources, interval, resident, limit
        self.alarm = MemoryAlarm()
        self._task: asyncio.Task[None] | None = None

    def check(self) -> None:
        resident, limit = self._resident(), self._limit()
        change = self.alarm.update(resident, limit)
        if change is None:
            return
        assert resident is not None and limit is not None
        share = (
            f"{resident / MIB:.0f} MiB, {100 * resident / limit:.0f}% of the container's limit {limit / MIB:.0f} MiB"
        )
        if change:
            logger.warning(
                "memory near the limit: resident %s, with %d ModelDeployments; the kernel kills the operator at the "
                "limit (and it restarts into the same state): raise the memory limit (docs/operations/sizing.md)",
                share,
                self._resources(),
            )
        else:
            logger.info("memory back under %.0f%% of the limit: resident %s", 100 * self.alarm.near, share)

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="esml-memory-watch")

    async def _run(self) -> None:
        while True:
            self.check()
            await asyncio.sleep(self._interval)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
