"""Where a change's time goes: the stages of one pass, timed, and one log line per pass that read a change.

A pass runs in a task of its own (see :mod:`.workqueue`), so :func:`begin`
binds a record to it through a context variable and :func:`stage` /
:func:`sent` add to it from wherever the pass is (observer, actor) without
passing it around. For a pass that follows a watch event (a spec change),
:func:`report` logs the change's path: how long it queued behind the pass
under way, then each stage, and when the Elasticsearch write was sent, all
counted from the watch event. The line is DEBUG, or INFO when the write was
sent later than :data:`SLOW` after the event (rare, and worth a line). The
bench reads these lines to name the cause of each slow change.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass, field

logger = logging.getLogger(__name__)

#: Seconds from the watch event to the Elasticsearch write above which the change is logged at INFO.
SLOW = 0.1
#: The timed stages, in the order a pass goes through them.
STAGES = ("finalizer", "connect", "poll", "autoscalers", "slot", "request", "status")


@dataclass
class PassTiming:
    started: float  # monotonic
    stages: dict[str, float] = field(default_factory=dict)  # stage -> seconds
    sent: float | None = None  # monotonic time the Elasticsearch write was sent
    outcome: str = "unknown"  # the pass's outcome (see :mod:`.reconciler`)


_current: ContextVar[PassTiming | None] = ContextVar("esml_pass_timing", default=None)


def begin() -> PassTiming:
    """A pass starts in this task: time it."""
    timing = PassTiming(time.monotonic())
    _current.set(timing)
    return timing


@contextlib.contextmanager
def stage(name: str) -> Iterator[None]:
    """Add the time spent inside to ``name`` of the pass under way (nothing outside a pass)."""
    timing = _current.get()
    started = time.monotonic()
    try:
        yield
    finally:
        if timing is not None:
            timing.stages[name] = timing.stages.get(name, 0.0) + time.monotonic() - started


def sent() -> None:
    """The pass's Elasticsearch write is being sent now."""
    timing = _current.get()
    if timing is not None and timing.sent is None:
        timing.sent = time.monotonic()


def outcome(value: str) -> None:
    """The pass under way ended with ``value``."""
    timing = _current.get()
    if timing is not None:
        timing.outcome = value


def report(name: str, resource_version: str, since: float, timing: PassTiming) -> None:
    """Log the path of the change whose watch event arrived at ``since`` (monotonic) and ``timing``'s pass read."""
    ended = time.monotonic()
    reached = timing.sent if timing.sent is not None else ended
    stages = " ".join(f"{s}_ms={1000 * timing.stages[s]:.1f}" for s in STAGES if s in timing.stages)
    sent_ms = f"{1000 * (timing.sent - since):.1f}" if timing.sent is not None else "none"
    queued, total = 1000 * (timing.started - since), 1000 * (ended - since)
    logger.log(
        logging.INFO if reached - since > SLOW else logging.DEBUG,
        "change timing: resource=%s rv=%s outcome=%s queued_ms=%.1f %s sent_ms=%s total_ms=%.1f",
        name,
        resource_version,
        timing.outcome,
        queued,
        stages,
        sent_ms,
        total,
    )
