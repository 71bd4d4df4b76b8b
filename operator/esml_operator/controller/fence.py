"""The one gate every write of the operator passes: sent only by the leader, never in flight after its renew deadline.

A status patch, an Event, a finalizer change and an Elasticsearch action are each sent inside
:meth:`Fence.send`. It checks leadership right before the request goes out (after any wait for a
slot) and gives the request a deadline of ``min(its own timeout, the time left before this
replica's renew deadline)``, moved on by every renewal while the request is under way: the request
is cancelled (its connection closed) when the deadline passes without one. So nothing a deposed
leader sent can still be on its way once another replica may take the Lease over (that is
``lease_duration`` after the last renewal, later than the renew deadline).

``left()`` comes from the leader elector (``LeaderElector.lease_left``, wired in by the manager:
the controller does not import the elector); ``None`` means no leader election (one replica, no
deadline).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable

logger = logging.getLogger(__name__)


class Deposed(Exception):
    """This replica does not lead (any more): the request was not sent, or was cut off at the renew deadline."""


def _always() -> float | None:
    return None


class Fence:
    def __init__(self, left: Callable[[], float | None] = _always) -> None:
        """``left()``: seconds before this replica must stop acting (``<= 0``: it does not lead; ``None``: always)."""
        self._left = left
        self.cut_off = 0  # requests cancelled at the renew deadline (tests and metrics)

    def leading(self) -> bool:
        left = self._left()
        return left is None or left > 0

    @contextlib.asynccontextmanager
    async def send(self, what: str) -> AsyncIterator[None]:
        """The request awaited inside is sent only while leading, and cancelled at the renew deadline.

        The deadline moves with every renewal (a long request of a leader that keeps its Lease is not cut off);
        when it passes without one, the request is cancelled. Raises :class:`Deposed` instead of entering when
        this replica does not lead, and when the deadline cut the request off.
        """
        left = self._left()
        if left is not None and left <= 0:
            raise Deposed(f"{what}: not sent, this replica is not the leader")
        loop = asyncio.get_running_loop()
        timer: asyncio.TimerHandle | None = None
        try:
            async with asyncio.timeout(None) as deadline:

                def check() -> None:
                    nonlocal timer
                    now_left = self._left()
                    if now_left is not None and now_left > 0:
                        timer = loop.call_later(now_left, check)  # renewed meanwhile: the deadline moved
                    else:
                        deadline.reschedule(loop.time())  # cancels the request now

                if left is not None:
                    timer = loop.call_later(left, check)
                yield
        except TimeoutError:
            if not deadline.expired():
                raise
            self.cut_off += 1
            logger.warning("%s: cut off at this replica's renew deadline (it no longer leads)", what)
            raise Deposed(f"{what}: cut off at this replica's renew deadline") from None
        finally:
            if timer is not None:
                timer.cancel()
