"""harness.polling (the one wait of tests, demo and bench) and harness.status (the one "converged")."""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from harness.polling import TimedOut, wait_for, wait_for_async
from harness.status import converged, is_ready


class Dead:
    name = "etcd"

    def alive(self) -> bool:
        return False

    def log_tail(self, lines: int = 30) -> str:
        return "panic: out of disk"


def test_returns_the_first_truthy_result() -> None:
    results = iter([None, 0, {"allocations": 2}])
    assert wait_for(lambda: next(results), timeout=5, interval=0) == {"allocations": 2}


def test_an_exception_is_not_yet_and_the_wait_goes_on() -> None:
    calls = itertools.count()

    def check() -> str:
        if next(calls) < 2:
            raise ConnectionRefusedError("not listening yet")
        return "up"

    assert wait_for(check, timeout=5, interval=0) == "up"


def test_the_timeout_names_what_and_the_last_result_seen() -> None:
    answers = iter([None, 0, []])

    def ready_names() -> list[str] | int | None:
        return next(answers, [])

    with pytest.raises(TimedOut, match=r"waiting for two Ready; last: \[\]$") as raised:
        wait_for(ready_names, timeout=0.05, what="two Ready", interval=0.01)
    assert isinstance(raised.value, AssertionError)
    assert isinstance(raised.value, TimeoutError)


def test_the_timeout_names_the_last_exception() -> None:
    def check() -> None:
        raise AssertionError("Ready is False: ModelNotFound")

    with pytest.raises(TimedOut, match=r"last: AssertionError.*ModelNotFound"):
        wait_for(check, timeout=0.05, what="Ready", interval=0.01)


def test_a_dead_process_ends_the_wait_with_its_log() -> None:
    with pytest.raises(RuntimeError, match=r"(?s)etcd exited while waiting for etcd /health.*out of disk"):
        wait_for(lambda: False, timeout=30, what="etcd /health", processes=[Dead()])


async def test_the_async_wait_awaits_coroutine_checks() -> None:
    calls = itertools.count()

    async def check() -> int:
        return next(calls)

    assert await wait_for_async(check, within=5, interval=0) == 1


async def test_the_async_wait_times_out_with_the_last_result() -> None:
    with pytest.raises(TimedOut, match=r"waiting for the Lease; last: \[\]"):
        await wait_for_async(list, within=0.05, what="the Lease", interval=0.01)


def mdep(generation: int, observed: int, allocations: int, state: str, ready: str) -> dict[str, Any]:
    status = {
        "observedGeneration": observed,
        "allocations": allocations,
        "allocationState": state,
        "conditions": [{"type": "Ready", "status": ready}],
    }
    return {"metadata": {"generation": generation}, "status": status}


def test_converged_is_the_status_at_the_current_generation_fully_allocated_and_ready() -> None:
    obj = mdep(3, 3, 2, "fully_allocated", "True")
    assert converged(obj, 2) == obj["status"]


@pytest.mark.parametrize(
    ("obj", "why"),
    [
        (mdep(3, 2, 2, "fully_allocated", "True"), "an older generation"),
        (mdep(3, 3, 1, "fully_allocated", "True"), "another count"),
        (mdep(3, 3, 2, "started", "True"), "not fully allocated"),
        (mdep(3, 3, 2, "fully_allocated", "False"), "not Ready"),
        ({"metadata": {"generation": 1}}, "no status yet"),
    ],
)
def test_converged_is_none_until_every_part_holds(obj: dict[str, Any], why: str) -> None:
    assert converged(obj, 2) is None, why


def test_is_ready_reads_the_ready_condition() -> None:
    assert is_ready(mdep(1, 1, 1, "started", "True"))
    assert not is_ready(mdep(1, 1, 1, "started", "False"))
    assert is_ready(mdep(1, 1, 1, "started", "False"), "False")
    assert not is_ready({"status": {}})
