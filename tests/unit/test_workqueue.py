"""WorkQueue.preempt: only work inside a preemptible section is cancelled, and only for a newer request."""

from __future__ import annotations

import asyncio

from esml_operator.controller.workqueue import WorkQueue, preempted, preemptible
from tests.unit.runtime_fakes import until


class Work:
    """Each run waits in a preemptible section, then outside one, on events the test controls."""

    def __init__(self) -> None:
        self.poll, self.write = asyncio.Event(), asyncio.Event()
        self.started = self.finished = 0
        self.where = ""
        self.preempted: list[int] = []

    async def __call__(self, key: str) -> None:
        self.started += 1
        run = self.started
        try:
            self.where = "poll"
            with preemptible():
                await self.poll.wait()
            self.where = "write"
            await self.write.wait()
            self.finished += 1
        except asyncio.CancelledError:
            if preempted():
                self.preempted.append(run)
            raise
        finally:
            self.where = ""


async def test_a_newer_request_preempts_work_waiting_in_a_preemptible_section() -> None:
    work = Work()
    queue = WorkQueue(work)
    queue.add("k")
    await until(lambda: work.where == "poll", what="the first run waiting")
    assert not queue.preempt("k")  # nothing newer is queued: the wait stays
    queue.add("k")
    assert queue.preempt("k")
    await until(lambda: work.started == 2 and work.where == "poll", what="the second run at once")
    assert work.preempted == [1]
    work.poll.set()
    work.write.set()
    await until(lambda: work.finished == 1 and not queue.running, what="the second run done")
    await queue.close()


async def test_work_outside_a_preemptible_section_is_never_cancelled() -> None:
    work = Work()
    work.poll.set()
    queue = WorkQueue(work)
    queue.add("k")
    await until(lambda: work.where == "write", what="the first run writing")
    queue.add("k")
    assert not queue.preempt("k")
    work.write.set()
    await until(lambda: work.finished == 2 and not queue.running, what="both runs done")
    assert work.preempted == []
    await queue.close()


async def test_a_section_entered_by_another_task_of_the_work_does_not_make_it_preemptible() -> None:
    entered = asyncio.Event()
    release = asyncio.Event()

    async def child() -> None:
        with preemptible():
            entered.set()
            await release.wait()

    async def work(key: str) -> None:
        await asyncio.create_task(child())

    queue = WorkQueue(work)
    queue.add("k")
    await entered.wait()
    queue.add("k")
    assert not queue.preempt("k")  # the running work itself is not in a section
    release.set()
    await until(lambda: not queue.running and not queue.pending("k"), what="done")
    await queue.close()


async def test_a_conditional_section_is_preempted_only_while_its_condition_holds() -> None:
    moot = False
    started = asyncio.Event()
    release = asyncio.Event()
    cancelled: list[bool] = []

    async def work(key: str) -> None:
        try:
            with preemptible(when=lambda: moot):
                started.set()
                await release.wait()
        except asyncio.CancelledError:
            cancelled.append(preempted())
            raise

    queue = WorkQueue(work)
    queue.add("k")
    await started.wait()
    queue.add("k")
    assert not queue.preempt("k")  # a newer request, but what the section does is not moot
    moot = True
    assert queue.preempt("k")
    await until(lambda: cancelled == [True], what="the section cancelled as preempted")
    release.set()
    await until(lambda: not queue.running and not queue.pending("k"), what="the newer run done")
    await queue.close()


async def test_a_pass_cancelled_before_its_first_step_does_not_hold_its_key() -> None:
    """Leadership lost the moment a pass was started: its task is cancelled before it ever runs, so nothing in it
    (a ``finally`` included) executes. The key must not stay "running": later requests for it must run."""
    ran: list[str] = []

    async def work(key: str) -> None:
        ran.append(key)

    queue = WorkQueue(work)
    queue._start("k")  # what the timer of add("k") does: the task exists, its first step is still to come
    queue.cancel_running()
    await until(lambda: "k" not in queue.running)
    assert ran == []  # it never ran
    queue.add("k")
    await until(lambda: ran == ["k"])
    await until(lambda: not queue.running and not queue.pending("k"))


async def test_a_request_made_during_a_pass_cancelled_before_its_first_step_still_runs() -> None:
    ran: list[str] = []

    async def work(key: str) -> None:
        ran.append(key)

    queue = WorkQueue(work)
    queue._start("k")
    queue.add("k")  # while it is "running": queued to run once more afterwards
    queue.cancel_running()
    await until(lambda: ran == ["k"])
