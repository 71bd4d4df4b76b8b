"""A failed poll that carries ``Retry-After`` keeps the cluster's poller away for that long."""

from __future__ import annotations

import pytest

from esml_operator.elasticsearch.errors import ServerError
from esml_operator.elasticsearch.models import ClusterSnapshot
from esml_operator.handlers.snapshots import SnapshotCache


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


async def test_no_poll_before_retry_after_then_one_poll() -> None:
    clock = FakeClock()
    cache = SnapshotCache(min_interval=0.5, clock=clock)
    answers: list[ClusterSnapshot | Exception] = [ServerError("503", status=503, retry_after=5), ClusterSnapshot()]
    calls = 0

    async def fetch() -> ClusterSnapshot:
        nonlocal calls
        calls += 1
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    with pytest.raises(ServerError):
        await cache.get("c1", fetch, newer_than=clock.now)
    for later in (1.0, 2.0, 4.9):  # asked for newer snapshots within Retry-After: the same failure, no request
        clock.now = 100.0 + later
        with pytest.raises(ServerError) as raised:
            await cache.get("c1", fetch, newer_than=clock.now)
        assert raised.value.retry_after == 5
    assert calls == 1
    clock.now = 105.0
    taken = await cache.get("c1", fetch, newer_than=clock.now)
    assert taken.snapshot == ClusterSnapshot() and calls == 2


async def test_a_failure_without_retry_after_is_retried_at_the_next_request() -> None:
    clock = FakeClock()
    cache = SnapshotCache(min_interval=0.0, clock=clock)
    calls = 0

    async def fetch() -> ClusterSnapshot:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise ServerError("503", status=503)
        return ClusterSnapshot()

    with pytest.raises(ServerError):
        await cache.get("c1", fetch, newer_than=clock.now)
    clock.now += 0.1
    await cache.get("c1", fetch, newer_than=clock.now)
    assert calls == 2
