"""Issue 23: a spec change never waits for a poll it does not need.

A change that arrives while a resync round's poll (or a verification poll) is
under way reaches Elasticsearch at once, whichever pass is waiting for that
poll: the resource's own (the newer change preempts it: its wait is cancelled,
never an Elasticsearch write) or another resource's. The polls here hang until
the test opens them, so a change that waited for one would never arrive.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from typing import Any

import pytest

from esml_operator.manager.operator import Operator
from tests.unit.runtime_fakes import FakeES, FakeKube, bump, operator_for, resource, until

URL_A = "https://es-a:9200"


def _allocations(es: FakeES, name: str) -> int | None:
    found = es.deployments.get(name)
    return int(found["number_of_allocations"]) if found is not None else None


def _idle(op: Operator) -> bool:
    return not op.runtime.queue.running and not any(op.runtime.queue.pending(u) for u in op.runtime.registry.uids())


async def _settled(es: FakeES, op: Operator, *names: str) -> dict[str, dict[str, Any]]:
    bodies = {}
    for name in names:
        bodies[name] = resource(name, URL_A, numberOfAllocations=1)
        op.runtime.observe("ADDED", bodies[name])
    await until(lambda: all(_allocations(es, n) == 1 for n in names), what="started")
    await until(lambda: _idle(op), what="idle after the start and its verification")
    return bodies


async def _two_changes(
    op: Operator, body: dict[str, Any], under_way: Callable[[], bool], what: str
) -> tuple[dict[str, Any], dict[str, Any]]:
    """A change to 2 allocations, then (once ``under_way()`` holds for its pass) a change to 3."""
    first = bump(body, numberOfAllocations=2)
    op.runtime.observe("MODIFIED", first)
    await until(under_way, what=what)
    second = bump(first, numberOfAllocations=3)
    op.runtime.observe("MODIFIED", second)
    return first, second


async def _round_poll_hangs(es: FakeES, op: Operator, resyncing: str) -> None:
    """A resync round begins; ``resyncing``'s pass sends the round's poll, which hangs."""
    es.polls_open.clear()
    polls = es.count("_stats")
    op.reconciler.observer.new_round()
    op.runtime.queue.add(f"uid-{resyncing}")
    await until(lambda: es.count("_stats") > polls, what="the round's poll sent")


async def test_a_change_preempts_its_own_resync_pass_waiting_for_the_rounds_poll() -> None:
    es, kube = FakeES(), FakeKube()
    op = operator_for({URL_A: es}, kube)
    body = (await _settled(es, op, "ner"))["ner"]
    await _round_poll_hangs(es, op, "ner")
    op.runtime.observe("MODIFIED", bump(body, numberOfAllocations=2))
    await until(lambda: _allocations(es, "ner") == 2, within=3.0, what="the change sent while the poll hangs")
    assert not es.polls_open.is_set()
    es.polls_open.set()
    await until(lambda: _idle(op), what="idle")
    assert es.count("_update") == 1
    await op.close()


async def test_a_change_does_not_join_another_resources_round_poll() -> None:
    es, kube = FakeES(), FakeKube()
    op = operator_for({URL_A: es}, kube)
    body = (await _settled(es, op, "ner", "other"))["ner"]
    await _round_poll_hangs(es, op, "other")
    op.runtime.observe("MODIFIED", bump(body, numberOfAllocations=3))
    await until(lambda: _allocations(es, "ner") == 3, within=3.0, what="the change sent while the poll hangs")
    es.polls_open.set()
    await until(lambda: _idle(op), what="idle")
    await op.close()


async def test_a_change_just_after_a_round_began_does_not_wait_out_the_minimum_poll_interval() -> None:
    es, kube = FakeES(), FakeKube()
    op = operator_for({URL_A: es}, kube, min_poll_interval=30.0)  # the round's poll may not be sent for 30 s
    body = resource("ner", URL_A, numberOfAllocations=1)
    op.runtime.observe("ADDED", body)
    await until(lambda: _allocations(es, "ner") == 1, what="started")
    op.reconciler.observer.new_round()
    op.runtime.observe("MODIFIED", bump(body, numberOfAllocations=2))
    await until(lambda: _allocations(es, "ner") == 2, within=3.0, what="the change sent at once")
    assert es.count("_stats") == 1
    await op.close()


async def test_a_change_preempts_a_verification_waiting_for_its_poll() -> None:
    es, kube = FakeES(), FakeKube()
    op = operator_for({URL_A: es}, kube)
    body = (await _settled(es, op, "ner"))["ner"]
    es.polls_open.clear()
    polls = es.count("_stats")

    def verifying() -> bool:
        return _allocations(es, "ner") == 2 and es.count("_stats") > polls

    await _two_changes(op, body, verifying, "the first change sent and its verification's poll")
    await until(lambda: _allocations(es, "ner") == 3, within=3.0, what="the second change sent while the poll hangs")
    es.polls_open.set()
    await until(lambda: _idle(op), what="idle")
    await op.close()


async def test_a_change_never_cancels_an_elasticsearch_write_under_way() -> None:
    es, kube = FakeES(update_delay=0.3), FakeKube()
    op = operator_for({URL_A: es}, kube)
    body = (await _settled(es, op, "ner"))["ner"]
    await _two_changes(op, body, lambda: es.count("_update") == 1, "the first _update under way")
    await until(lambda: _allocations(es, "ner") == 2, what="the first _update answered (not cancelled)")
    await until(lambda: _allocations(es, "ner") == 3, what="then the second")
    await until(lambda: _idle(op), what="idle")
    assert es.count("_update") == 2
    await op.close()


async def test_a_pass_overtaken_by_a_newer_spec_leaves_the_status_to_the_next_pass() -> None:
    """Back-to-back changes: the first pass's status would be stale before it was sent, and writing it would hold
    the second change's pass for one more request. Its Event is still posted: the _update happened."""
    es, kube = FakeES(update_delay=0.3), FakeKube()
    op = operator_for({URL_A: es}, kube)
    body = (await _settled(es, op, "ner"))["ner"]
    patched = len(kube.patches)
    await _two_changes(op, body, lambda: es.count("_update") == 1, "the first _update under way")
    await until(lambda: _allocations(es, "ner") == 3, what="the second _update")
    await until(lambda: _idle(op), what="idle")
    written = [status.get("observedGeneration") for _, status in kube.patches[patched:]]
    assert written and set(written) == {3}, written
    await op.writer.events.drain()
    updates = [message for _, reason, message in kube.events if reason == "DeploymentUpdated"]
    assert [m.split(" ; ")[0].split("number_of_allocations ")[1][:6] for m in updates] == ["1 -> 2", "2 -> 3"]
    await op.close()


def _timing_lines(caplog: pytest.LogCaptureFixture) -> list[tuple[int, dict[str, str]]]:
    found = []
    for record in caplog.records:
        message = record.getMessage()
        if record.name == "esml_operator.controller.timing" and message.startswith("change timing: "):
            fields = dict(part.split("=", 1) for part in message.removeprefix("change timing: ").split())
            found.append((record.levelno, fields))
    return found


async def test_each_change_logs_where_its_time_went(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="esml_operator.controller.timing")
    es, kube = FakeES(update_delay=0.3), FakeKube()
    op = operator_for({URL_A: es}, kube)
    body = (await _settled(es, op, "ner"))["ner"]
    caplog.clear()
    # The second change queues behind the first pass's 0.3 s _update.
    first, second = await _two_changes(op, body, lambda: es.count("_update") == 1, "the first _update under way")
    await until(lambda: len(_timing_lines(caplog)) == 2, what="two timing lines")
    (fast_level, fast), (slow_level, slow) = _timing_lines(caplog)
    assert fast["resource"] == "ns/ner" and fast["rv"] == first["metadata"]["resourceVersion"]
    assert fast_level == logging.DEBUG and float(fast["sent_ms"]) < 100 and float(fast["request_ms"]) >= 300
    assert slow["rv"] == second["metadata"]["resourceVersion"] and slow["outcome"] == "action_succeeded"
    assert slow_level == logging.INFO and float(slow["queued_ms"]) >= 200 and float(slow["sent_ms"]) >= 200
    await op.close()


async def test_a_preempted_pass_is_counted_and_its_change_is_timed_without_a_poll_wait(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="esml_operator.controller.timing")
    es, kube = FakeES(), FakeKube()
    op = operator_for({URL_A: es}, kube)
    body = (await _settled(es, op, "ner"))["ner"]
    await _round_poll_hangs(es, op, "ner")
    caplog.clear()
    op.runtime.observe("MODIFIED", bump(body, numberOfAllocations=2))
    await until(lambda: _allocations(es, "ner") == 2, within=3.0, what="the change sent while the poll hangs")
    await until(lambda: _timing_lines(caplog), what="its timing line")
    [(_, fields)] = _timing_lines(caplog)
    assert fields["outcome"] == "action_succeeded" and float(fields["poll_ms"]) < 50  # it never waited for the poll
    assert 'outcome="preempted"' in op.metrics.exposition(None)[0].decode()
    es.polls_open.set()
    await op.close()


class _EventsHang(FakeKube):
    """Every Event POST waits until ``open`` is set (an API server slow to take Events)."""

    def __init__(self) -> None:
        super().__init__()
        self.open = asyncio.Event()
        self.waiting = 0

    async def post_event(self, body: Mapping[str, Any], *, type: str, reason: str, message: str) -> None:
        self.waiting += 1
        await self.open.wait()
        await super().post_event(body, type=type, reason=reason, message=message)


async def test_a_change_does_not_wait_for_the_events_of_the_pass_before_it() -> None:
    es, kube = FakeES(), _EventsHang()
    op = operator_for({URL_A: es}, kube)
    kube.open.set()
    body = (await _settled(es, op, "ner"))["ner"]
    await op.writer.events.drain()
    kube.open.clear()
    kube.waiting = 0
    first = bump(body, numberOfAllocations=2)
    op.runtime.observe("MODIFIED", first)
    await until(lambda: kube.waiting > 0, what="the first change's Event on its way (and hanging)")
    op.runtime.observe("MODIFIED", bump(first, numberOfAllocations=3))
    await until(lambda: _allocations(es, "ner") == 3, within=3.0, what="the second change sent while the Event hangs")
    assert not kube.open.is_set() and op.writer.events.pending() > 0
    kube.open.set()
    await until(lambda: _idle(op), what="idle")
    await op.writer.events.drain()
    updates = [message for _, reason, message in kube.events if reason == "DeploymentUpdated"]
    assert len(updates) == 2 and "2" in updates[0] and "3" in updates[1]  # both said, in the order they happened
    await op.close()


class _StatusHangs(FakeKube):
    """Every status patch waits until ``open`` is set (an API server slow to take them); ``cancelled`` counts
    the patches given up while waiting."""

    def __init__(self) -> None:
        super().__init__()
        self.open = asyncio.Event()
        self.open.set()
        self.waiting = self.cancelled = 0

    async def patch_status(self, namespace: str, name: str, status: Mapping[str, Any]) -> None:
        self.waiting += 1
        try:
            await self.open.wait()
        except asyncio.CancelledError:
            self.cancelled += 1
            raise
        await super().patch_status(namespace, name, status)


async def test_a_newer_spec_cancels_the_status_write_of_the_generation_it_replaces() -> None:
    es, kube = FakeES(), _StatusHangs()
    op = operator_for({URL_A: es}, kube)
    body = (await _settled(es, op, "ner"))["ner"]
    patched, passes = len(kube.patches), op.metrics.exposition(None)[0].decode()
    kube.open.clear()
    kube.waiting = 0
    first = bump(body, numberOfAllocations=2)
    op.runtime.observe("MODIFIED", first)
    await until(lambda: kube.waiting == 1, what="the first change's status patch on its way (and hanging)")
    op.runtime.observe("MODIFIED", bump(first, numberOfAllocations=3))
    await until(lambda: _allocations(es, "ner") == 3, within=3.0, what="the second change sent, not held by it")
    assert kube.cancelled == 1 and not kube.open.is_set()
    kube.open.set()
    await until(lambda: _idle(op), what="idle")
    written = [status.get("observedGeneration") for _, status in kube.patches[patched:]]
    assert written and set(written) == {3}, written  # generation 2's status was never written
    exposition = op.metrics.exposition(None)[0].decode()
    assert 'outcome="preempted"' not in exposition  # the first pass acted: it ended as action_succeeded
    assert _passes(exposition, "action_succeeded") >= _passes(passes, "action_succeeded") + 2
    await op.close()


async def test_a_status_write_is_not_cancelled_by_a_change_that_leaves_the_generation() -> None:
    es, kube = FakeES(), _StatusHangs()
    op = operator_for({URL_A: es}, kube)
    body = (await _settled(es, op, "ner"))["ner"]
    kube.open.clear()
    kube.waiting = 0
    first = bump(body, numberOfAllocations=2)
    op.runtime.observe("MODIFIED", first)
    await until(lambda: kube.waiting == 1, what="the status patch on its way (and hanging)")
    annotated = {**first, "metadata": {**first["metadata"], "annotations": {"team": "search"}}}
    op.runtime.observe("MODIFIED", annotated)  # urgent (annotations), same generation: the write stands
    kube.open.set()
    await until(lambda: _idle(op), what="idle")
    assert kube.cancelled == 0
    await op.close()


def _passes(exposition: str, outcome: str) -> float:
    for line in exposition.splitlines():
        if line.startswith("esml_reconcile_passes_total{") and f'outcome="{outcome}"' in line:
            return float(line.rsplit(" ", 1)[1])
    return 0.0
