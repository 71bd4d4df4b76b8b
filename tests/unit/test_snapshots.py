"""The per-cluster snapshot cache: one fetch serves many callers, never faster than min_interval."""

from __future__ import annotations

import asyncio

import pytest

from esml_operator.controller.snapshots import SnapshotCache
from esml_operator.elasticsearch.errors import ConnectionFailedError, ServerError
from esml_operator.elasticsearch.models import ClusterSnapshot
from harness.polling import wait_for_async


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


async def test_concurrent_callers_share_one_fetch() -> None:
    clock = FakeClock()
    cache = SnapshotCache(min_interval=0.0, clock=clock)
    gate = asyncio.Event()
    calls = 0

    async def fetch() -> ClusterSnapshot:
        nonlocal calls
        calls += 1
        await gate.wait()
        return ClusterSnapshot(model_ids=frozenset({"m"}))

    waiters = [asyncio.create_task(cache.get("c1", fetch, newer_than=clock.now)) for _ in range(50)]
    await asyncio.sleep(0)
    gate.set()
    results = await asyncio.gather(*waiters)
    assert calls == 1
    assert all(r is results[0] for r in results)


async def test_fresh_enough_snapshot_is_reused_and_older_one_refetched() -> None:
    clock = FakeClock()
    cache = SnapshotCache(min_interval=0.0, clock=clock)
    calls = 0

    async def fetch() -> ClusterSnapshot:
        nonlocal calls
        calls += 1
        return ClusterSnapshot()

    first = await cache.get("c1", fetch, newer_than=clock.now)
    again = await cache.get("c1", fetch, newer_than=clock.now - 5)
    assert again is first and calls == 1
    clock.now += 10
    newer = await cache.get("c1", fetch, newer_than=clock.now)
    assert newer is not first and calls == 2
    await cache.get("c2", fetch, newer_than=clock.now)  # another cluster has its own slot
    assert calls == 3


async def test_min_interval_limits_fetch_rate() -> None:
    clock = FakeClock()
    slept: list[float] = []

    async def sleep(seconds: float) -> None:  # simulated time: sleeping advances the clock
        slept.append(seconds)
        clock.now += seconds

    cache = SnapshotCache(min_interval=1.0, clock=clock, sleep=sleep)
    starts: list[float] = []

    async def fetch() -> ClusterSnapshot:
        starts.append(clock.now)
        return ClusterSnapshot()

    await cache.get("c1", fetch, newer_than=clock.now)
    clock.now += 0.25
    await cache.get("c1", fetch, newer_than=clock.now)
    assert slept == [pytest.approx(0.75)]
    assert len(starts) == 2 and starts[1] - starts[0] == pytest.approx(1.0)


async def test_failure_reaches_every_waiter_and_is_not_cached() -> None:
    clock = FakeClock()
    cache = SnapshotCache(min_interval=0.0, clock=clock)
    fail = True

    async def fetch() -> ClusterSnapshot:
        if fail:
            raise ConnectionFailedError("refused")
        return ClusterSnapshot()

    results = await asyncio.gather(
        *[cache.get("c1", fetch, newer_than=clock.now) for _ in range(3)], return_exceptions=True
    )
    assert all(isinstance(r, ConnectionFailedError) for r in results)
    fail = False
    clock.now += 1
    taken = await cache.get("c1", fetch, newer_than=clock.now)
    assert taken.snapshot == ClusterSnapshot()


async def test_forget_drops_the_slot() -> None:
    clock = FakeClock()
    cache = SnapshotCache(min_interval=0.0, clock=clock)

    async def fetch() -> ClusterSnapshot:
        return ClusterSnapshot()

    await cache.get("c1", fetch, newer_than=clock.now)
    assert cache.keys() == ["c1"]
    cache.forget("c1")
    assert cache.keys() == []


async def test_close_cancels_fetches_under_way() -> None:
    clock = FakeClock()
    cache = SnapshotCache(min_interval=0.0, clock=clock)
    started, cancelled = asyncio.Event(), asyncio.Event()

    async def fetch() -> ClusterSnapshot:
        started.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            cancelled.set()
            raise
        raise AssertionError("unreachable")

    waiter = asyncio.create_task(cache.get("c1", fetch, newer_than=clock.now))
    await started.wait()
    cache.close()
    await asyncio.wait_for(cancelled.wait(), timeout=5)
    assert cache.keys() == []
    with pytest.raises(asyncio.CancelledError):
        await waiter


async def test_cancel_polls_cancels_the_shared_fetch_and_keeps_the_snapshots() -> None:
    """Leadership lost: the fetch its cancelled passes shared does not go on to its next request on its own."""
    clock = FakeClock()
    cache = SnapshotCache(min_interval=0.0, clock=clock)
    kept = await cache.get("c1", _empty, newer_than=clock.now)
    answered, sent = asyncio.Event(), list[str]()

    async def fetch() -> ClusterSnapshot:  # a poll is two requests: _stats, then the inference endpoints
        await answered.wait()
        sent.append("GET _inference/_all")
        return ClusterSnapshot()

    clock.now += 10
    waiter = asyncio.create_task(cache.get("c1", fetch, newer_than=clock.now))
    await wait_for_async(lambda: cache.busy("c1"), within=5, interval=0.001, what="the poll under way")
    waiter.cancel()  # the pass: it is shielded from the fetch, which would go on without it
    cache.cancel_polls()
    answered.set()
    await wait_for_async(lambda: not cache.busy("c1"), within=5, interval=0.001, what="the poll ended")
    assert sent == []
    assert cache.latest("c1") is kept and cache.keys() == ["c1"]


async def _empty() -> ClusterSnapshot:
    return ClusterSnapshot()


async def test_a_retry_after_on_a_failed_poll_holds_every_caller_off_then_one_poll() -> None:
    now = [100.0]
    calls = []

    async def fetch() -> ClusterSnapshot:
        calls.append(now[0])
        if len(calls) == 1:
            raise ServerError("unavailable", status=503, retry_after=5.0)
        return ClusterSnapshot()

    async def no_sleep(_: float) -> None:
        return None

    cache = SnapshotCache(min_interval=0.0, clock=lambda: now[0], sleep=no_sleep)
    for step in range(10):  # 0 to 4.5 s in half-second steps, each asking for a poll newer than now
        now[0] = 100.0 + step * 0.5
        with pytest.raises(ServerError) as raised:
            await cache.get("c", fetch, newer_than=now[0])
        assert raised.value.retry_after == 5.0  # the same failure, without a request
    assert calls == [100.0]
    now[0] = 105.0
    taken = await cache.get("c", fetch, newer_than=now[0])
    assert taken.snapshot == ClusterSnapshot()
    assert calls == [100.0, 105.0]  # asked again only once Retry-After had passed


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


async def test_a_cluster_is_busy_exactly_while_its_fetch_is_under_way() -> None:
    """The resync sweep leaves a busy cluster's slot alone: a first pass is waiting for that poll."""
    clock = FakeClock()
    cache = SnapshotCache(min_interval=0.0, clock=clock)
    gate = asyncio.Event()

    async def fetch() -> ClusterSnapshot:
        await gate.wait()
        return ClusterSnapshot()

    assert not cache.busy("c1")
    waiter = asyncio.create_task(cache.get("c1", fetch, newer_than=clock.now))
    await asyncio.sleep(0)
    assert cache.busy("c1") and not cache.busy("c2")
    gate.set()
    await waiter
    assert not cache.busy("c1")


async def test_a_failing_cluster_backs_off_for_every_caller_and_a_success_resets_it() -> None:
    clock = FakeClock()
    cache = SnapshotCache(min_interval=1.0, max_backoff=4.0, clock=clock, sleep=lambda seconds: asyncio.sleep(0))
    calls: list[float] = []
    failing = True

    async def fetch() -> ClusterSnapshot:
        calls.append(clock.now)
        if failing:
            raise ConnectionFailedError("refused")
        return ClusterSnapshot()

    async def poll_now() -> None:
        await cache.get("c1", fetch, newer_than=clock.now)

    started = clock.now
    for _ in range(13):  # many resources retrying, one every 1/4 s for 3 s: one fetch per back-off step
        with pytest.raises(ConnectionFailedError):
            await poll_now()
        clock.now += 0.25
    # Back-off after each failure: 1 s, then 2 s (capped later at 4 s): fetches at 0, 1 and 3 s.
    assert [round(t - started, 2) for t in calls] == [0.0, 1.0, 3.0]
    clock.now = calls[-1] + 4.0  # the third failure's back-off is 4 s
    failing = False
    await poll_now()
    failing = True
    clock.now += 1.0
    with pytest.raises(ConnectionFailedError):
        await poll_now()
    clock.now += 1.0  # after a success the back-off starts again at min_interval
    with pytest.raises(ConnectionFailedError):
        await poll_now()
    assert len(calls) == 6


async def test_a_poll_that_times_out_after_the_round_began_is_that_rounds_answer() -> None:
    """A timeout longer than the resync interval: the failure, which came after the round began, is shared by the
    round's passes (they report it) instead of each starting a poll of its own that may answer slowly."""
    clock = FakeClock()
    cache = SnapshotCache(min_interval=2.0, clock=clock, sleep=lambda seconds: asyncio.sleep(0))
    calls: list[float] = []

    async def times_out() -> ClusterSnapshot:
        calls.append(clock.now)
        clock.now += 8.0  # the request timeout
        raise ConnectionFailedError("timed out")

    first_round = clock.now
    with pytest.raises(ConnectionFailedError):
        await cache.get("c1", times_out, newer_than=first_round)
    later_round = first_round + 6.0  # rounds every 2 s began while the request waited
    for _ in range(3):  # the resources of the later round: the failure, no new request
        with pytest.raises(ConnectionFailedError):
            await cache.get("c1", times_out, newer_than=later_round)
    assert calls == [first_round]


async def test_the_back_off_after_a_timed_out_poll_counts_from_the_timeout() -> None:
    clock = FakeClock()
    cache = SnapshotCache(min_interval=2.0, clock=clock, sleep=lambda seconds: asyncio.sleep(0))
    calls: list[float] = []

    async def times_out() -> ClusterSnapshot:
        calls.append(clock.now)
        clock.now += 8.0
        raise ConnectionFailedError("timed out")

    with pytest.raises(ConnectionFailedError):
        await cache.get("c1", times_out, newer_than=clock.now)
    failed_at = clock.now
    clock.now = failed_at + 1.9  # a pass that wants a poll of its own, inside the 2 s back-off
    with pytest.raises(ConnectionFailedError):
        await cache.get("c1", times_out, newer_than=clock.now)
    assert len(calls) == 1
    clock.now = failed_at + 2.0
    with pytest.raises(ConnectionFailedError):
        await cache.get("c1", times_out, newer_than=clock.now)
    assert calls == [100.0, failed_at + 2.0]
