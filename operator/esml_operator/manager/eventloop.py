"""The event loop the operator runs on: uvloop where it is installed (a Linux-only dependency), else asyncio's own.

``--event-loop`` (``ESML_EVENT_LOOP``) chooses: ``auto`` (the default) takes
uvloop when it can be imported and asyncio's loop otherwise; ``uvloop`` insists
on it (the start fails, exit status 2, without it); ``asyncio`` is Python's own
loop, for comparison or if uvloop is ever suspected. kopf runs on whichever loop
runs its coroutine (``asyncio.Runner`` with the chosen loop factory). The loop
actually running is logged at start-up and exported as the ``event_loop`` label
of ``esml_operator_info``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

LoopFactory = Callable[[], asyncio.AbstractEventLoop]


class EventLoopUnavailable(Exception):
    """``--event-loop uvloop`` without uvloop installed."""


def loop_factory(choice: str) -> LoopFactory | None:
    """The factory for ``choice`` (``auto``, ``uvloop`` or ``asyncio``); None is asyncio's default loop."""
    if choice == "asyncio":
        return None
    try:
        import uvloop
    except ImportError:
        if choice == "uvloop":
            raise EventLoopUnavailable(
                "--event-loop uvloop: uvloop is not installed (the operator depends on it on Linux only); "
                "choose --event-loop auto or asyncio"
            ) from None
        return None
    return uvloop.new_event_loop


def loop_name(loop: asyncio.AbstractEventLoop) -> str:
    """``uvloop`` or ``asyncio``: which implementation ``loop`` is."""
    return "uvloop" if type(loop).__module__.partition(".")[0] == "uvloop" else "asyncio"
