"""The fence: every write is sent only while leading, checked right before it goes out, and cut off at the
renew deadline (``min(its own timeout, the time left)``), so no request of a deposed leader is in flight after it."""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import Mapping
from typing import Any

import pytest

from esml_operator.controller.fence import Deposed, Fence
from tests.unit.runtime_fakes import FakeES, FakeKube, operator_for, resource, until

URL = "https://es-a:9200"


class Deadline:
    """``left()`` for a fence: the seconds until a loop-time deadline (None: no leader election)."""

    def __init__(self, seconds: float | None) -> None:
        self.at = None if seconds is None else asyncio.get_running_loop().time() + seconds

    def left(self) -> float | None:
        return None if self.at is None else self.at - asyncio.get_running_loop().time()

    def renew(self, seconds: float) -> None:
        self.at = asyncio.get_running_loop().time() + seconds

    def end(self) -> None:
        """Leadership ends now (the Lease was seen in another replica's hands)."""
        self.at = asyncio.get_running_loop().time()


class Hung:
    """A request that never gets an answer; records when it was sent and when it was cancelled."""

    def __init__(self) -> None:
        self.sent: float | None = None
        self.cancelled: float | None = None

    async def __call__(self) -> None:
        loop = asyncio.get_running_loop()
        self.sent = loop.time()
        try:
            await loop.create_future()
        except asyncio.CancelledError:
            self.cancelled = loop.time()
            raise


# -- the fence alone ------------------------------------------------------------------------------


async def test_without_leader_election_a_request_has_no_deadline_of_the_fences() -> None:
    fence = Fence()
    async with fence.send("a write"):
        await asyncio.sleep(0.01)
    assert fence.leading() and fence.cut_off == 0


async def test_a_replica_that_does_not_lead_sends_nothing() -> None:
    fence, request = Fence(lambda: 0.0), Hung()
    with pytest.raises(Deposed, match="a write: not sent"):
        async with fence.send("a write"):
            await request()
    assert request.sent is None and not fence.leading()


async def test_a_request_in_flight_at_the_renew_deadline_is_cancelled_then(caplog: pytest.LogCaptureFixture) -> None:
    deadline = Deadline(0.05)
    fence, request = Fence(deadline.left), Hung()
    with pytest.raises(Deposed, match="cut off at this replica's renew deadline"):
        async with fence.send("patching status of ns/ner"):
            await request()
    assert request.sent is not None and request.cancelled is not None and deadline.at is not None
    assert deadline.at <= request.cancelled < deadline.at + 1.0  # at the deadline, long before any timeout of its own
    assert fence.cut_off == 1
    assert "patching status of ns/ner: cut off" in caplog.text


async def test_a_long_request_of_a_leader_that_keeps_renewing_is_not_cut_off() -> None:
    """The deadline moves with every renewal: only a request that outlives the leadership is cancelled."""
    deadline = Deadline(0.5)
    fence = Fence(deadline.left)

    async def long_request() -> str:  # 0.8 s, four times as long as a renewal period
        for _ in range(4):
            await asyncio.sleep(0.2)  # the request's own latency
            deadline.renew(0.5)
        return "answered"

    async with fence.send("_start of deployment [ner]"):
        answer = await long_request()
    assert answer == "answered" and fence.cut_off == 0


async def test_the_requests_own_timeout_is_its_own_error_not_a_deposition() -> None:
    fence = Fence(Deadline(30.0).left)
    with pytest.raises(TimeoutError):
        async with fence.send("a write"), asyncio.timeout(0.01):  # the client's request timeout, shorter
            await Hung()()
    assert fence.cut_off == 0


# -- the writes of a pass ---------------------------------------------------------------------------


class HungStatusKube(FakeKube):
    """Status patches never get an answer (an API server that accepts and never answers)."""

    def __init__(self) -> None:
        super().__init__()
        self.hung = Hung()

    async def patch_status(self, namespace: str, name: str, status: Mapping[str, Any]) -> None:
        await self.hung()


async def test_a_status_patch_hung_across_the_renew_deadline_is_cut_off_and_the_pass_ends(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    es, kube = FakeES(), HungStatusKube()
    deadline = Deadline(0.3)
    fence = Fence(deadline.left)  # the manager wires the elector's lease_left in
    op = operator_for({URL: es}, kube, fence=fence)
    op.runtime.observe("ADDED", resource("ner", URL))
    await until(lambda: kube.hung.cancelled is not None, what="the hung patch cancelled")
    assert deadline.at is not None and kube.hung.cancelled is not None
    assert kube.hung.cancelled >= deadline.at
    await until(lambda: not op.runtime.queue.running, what="the pass ended")
    assert fence.cut_off == 1
    assert "ner: the pass stopped: patching status of ns/ner: cut off" in caplog.text
    assert "failed unexpectedly" not in caplog.text
    await op.close()


class Slot(asyncio.Semaphore):
    """The actor's per-cluster slot (one at a time), counting the passes that wait for it."""

    def __init__(self) -> None:
        super().__init__(1)
        self.waiting = 0

    async def acquire(self) -> bool:
        self.waiting += 1
        try:
            return await super().acquire()
        finally:
            self.waiting -= 1


class GatedStarts(FakeES):
    """``_start`` waits until ``opened`` is set (the cluster is slow to answer it)."""

    def __init__(self) -> None:
        super().__init__()
        self.opened = asyncio.Event()

    async def handle(self, request: Any) -> Any:
        if request.url.path.endswith("/deployment/_start"):
            self.calls.append(f"{request.method} {request.url.path} (arrived)")
            await self.opened.wait()
        return await super().handle(request)


async def test_an_action_that_waited_for_its_slot_is_not_sent_once_leadership_ended() -> None:
    """Leadership is checked right before the request goes out, not before the wait for the cluster's slot."""
    es, kube = GatedStarts(), FakeKube()
    deadline = Deadline(60.0)
    op = operator_for({URL: es}, kube, fence=Fence(deadline.left), max_concurrent_reconciles=1)
    slots: list[Slot] = []

    def slot() -> asyncio.Semaphore:
        slots.append(Slot())
        return slots[-1]

    op.reconciler.actor._limits = defaultdict(slot)
    for name in ("first", "second"):
        op.runtime.observe("ADDED", resource(name, URL))
    await until(lambda: es.count("(arrived)") == 1, what="the first _start in flight, holding the slot")
    await until(lambda: any(slot.waiting for slot in slots), what="the second pass waiting for the slot")
    deadline.end()  # the second pass decided while leading, and waits for the slot
    es.opened.set()
    await until(lambda: not op.runtime.queue.running, what="both passes ended")
    assert es.count("(arrived)") == 1, es.calls  # the second _start was never sent
    assert len(es.deployments) == 1
    await op.close()


async def test_losing_leadership_cancels_the_passes_and_the_poll_they_shared() -> None:
    es, kube = FakeES(), FakeKube()
    deadline = Deadline(60.0)
    op = operator_for({URL: es}, kube, fence=Fence(deadline.left))
    es.polls_open.clear()  # every _stats waits for an answer
    for name in ("first", "second"):
        op.runtime.observe("ADDED", resource(name, URL))
    await until(lambda: es.count("_stats") == 1 and len(op.runtime.queue.running) == 2, what="both passes polling")
    deadline.end()
    op.stopped_leading()  # what the elector calls at the renew deadline

    def cancelled() -> bool:
        return not op.runtime.queue.running and not any(op.snapshots.busy(key) for key in op.snapshots.keys())  # noqa: SIM118

    await until(cancelled, what="the passes and their shared poll cancelled")  # the poll never got its answer
    assert es.count("_stats") == 1 and es.count("_start") == 0, es.calls
    await op.close()
