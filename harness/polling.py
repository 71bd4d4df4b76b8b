"""The one way tests, the demo and the benchmark wait for something: poll a check until it holds.

``wait_for`` blocks (kubectl, files, HTTP with a sync client); ``wait_for_async`` awaits (checks that
are coroutines, or that must not block an event loop). Both:

- return the check's first truthy result;
- treat an exception from the check as "not yet" and remember it;
- fail fast, with the log tail, when one of ``processes`` dies;
- fail after ``timeout`` (async: ``within``) seconds with ``what`` and the last result or exception seen.
"""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

DEFAULT_TIMEOUT = 45.0


class TimedOut(AssertionError, TimeoutError):
    """The wait's time ran out: a failed assertion for pytest, a TimeoutError for everyone else."""


class Watched(Protocol):
    """A process whose death ends the wait early (harness.process.Process)."""

    name: str

    def alive(self) -> bool: ...

    def log_tail(self, lines: int = ...) -> str: ...


@dataclass
class _Attempts:
    timeout: float
    what: str
    processes: Sequence[Watched]
    deadline: float = field(init=False)
    last: Any = None

    def __post_init__(self) -> None:
        self.deadline = time.monotonic() + self.timeout

    def check_processes(self) -> None:
        for proc in self.processes:
            if not proc.alive():
                tail = proc.log_tail()
                raise RuntimeError(f"{proc.name} exited while waiting for {self.what}; its log ends:\n{tail}")

    def holds(self, outcome: Any) -> bool:
        """Remember ``outcome`` (a result, or the exception a check raised); raise once time is up."""
        self.last = outcome
        if outcome and not isinstance(outcome, Exception):
            return True
        if time.monotonic() > self.deadline:
            raise self.fail()
        return False

    def fail(self) -> TimedOut:
        tails = "".join(f"\n--- {p.name}:\n{p.log_tail()}" for p in self.processes)
        return TimedOut(f"timed out after {self.timeout:.0f}s waiting for {self.what}; last: {self.last!r}{tails}")


def wait_for(
    check: Callable[[], Any],
    *,
    timeout: float = DEFAULT_TIMEOUT,
    what: str = "condition",
    interval: float = 0.2,
    processes: Sequence[Watched] = (),
) -> Any:
    """Call ``check`` every ``interval`` seconds until it returns something truthy, and return that."""
    attempts = _Attempts(timeout, what, processes)
    while True:
        attempts.check_processes()
        try:
            outcome = check()
        except Exception as error:  # not yet: an unreachable server, a missing file, a failed assert
            outcome = error
        if attempts.holds(outcome):
            return outcome
        time.sleep(interval)


async def wait_for_async(
    check: Callable[[], Any],
    *,
    within: float = DEFAULT_TIMEOUT,
    what: str = "condition",
    interval: float = 0.1,
    processes: Sequence[Watched] = (),
) -> Any:
    """``wait_for`` on an event loop, ``within`` seconds: ``check`` may return an awaitable; sleeps with asyncio."""
    attempts = _Attempts(within, what, processes)
    while True:
        attempts.check_processes()
        try:
            result = check()
            outcome = await result if inspect.isawaitable(result) else result
        except Exception as error:  # not yet
            outcome = error
        if attempts.holds(outcome):
            return outcome
        await asyncio.sleep(interval)
