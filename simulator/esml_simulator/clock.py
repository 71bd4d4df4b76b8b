"""Injectable clocks: the simulated cluster never reads the time directly.

``now()`` is wall-clock seconds since the epoch. ``sleep_until`` lets a request
handler wait for the next simulated event; with :class:`FakeClock` it returns
only when a test advances the clock far enough, so tests never sleep.
"""

from __future__ import annotations

import asyncio
import time
from typing import Protocol


class Clock(Protocol):
    def now(self) -> float: ...

    async def sleep_until(self, deadline: float) -> None: ...


class SystemClock:
    """Real time."""

    def now(self) -> float:
        return time.time()

    async def sleep_until(self, deadline: float) -> None:
        delay = deadline - self.now()
        await asyncio.sleep(max(0.0, delay))


#: 2024-05-18T02:40:00Z: a fixed, recognisable start for fake-clock runs.
FAKE_EPOCH = 1_716_000_000.0


class FakeClock:
    """Time that moves only when :meth:`advance` or :meth:`set` is called."""

    def __init__(self, start: float = FAKE_EPOCH) -> None:
        self._now = start
        self._waiters: list[tuple[float, asyncio.Future[None]]] = []

    def now(self) -> float:
        return self._now

    async def sleep_until(self, deadline: float) -> None:
        if deadline <= self._now:
            await asyncio.sleep(0)
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        entry = (deadline, future)
        self._waiters.append(entry)
        try:
            await future
        finally:
            if entry in self._waiters:
                self._waiters.remove(entry)

    @property
    def pending(self) -> int:
        """How many tasks are sleeping on this clock."""
        return sum(1 for _, f in self._waiters if not f.done())

    def advance(self, seconds: float) -> float:
        if seconds < 0:
            raise ValueError("cannot move a clock backwards")
        return self.set(self._now + seconds)

    def set(self, when: float) -> float:
        if when < self._now:
            raise ValueError("cannot move a clock backwards")
        self._now = when
        for deadline, future in list(self._waiters):
            if deadline <= when and not future.done():
                future.set_result(None)
        return self._now

    def wake_all(self) -> None:
        """Release every waiter (used at shutdown)."""
        for _, future in list(self._waiters):
            if not future.done():
                future.set_result(None)
