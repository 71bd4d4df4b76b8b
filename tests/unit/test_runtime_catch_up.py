"""Catching up after a start: resources whose status says they are reconciled take at most ``catch_up_limit``
passes at once; a resource that changed while no operator ran, or a change that arrives meanwhile, does not wait
for a slot."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from esml_operator.controller.memory import Entry, Observed
from esml_operator.manager.operator import Operator
from tests.unit.runtime_fakes import FakeES, FakeKube, bump, operator_for, resource, until

URL_A, URL_B = "https://es-a:9200", "https://es-b:9200"


def _reconciled(name: str, url: str) -> dict[str, Any]:
    """A resource as a previous operator left it: its generation reconciled."""
    return {**resource(name, url, numberOfAllocations=1), "status": {"observedGeneration": 1}}


def _counting(op: Operator) -> list[str]:
    """The names of the resources whose pass got as far as observing Elasticsearch, in order."""
    seen: list[str] = []
    observe: Callable[..., Awaitable[Observed]] = op.reconciler.observer.observe

    async def counted(entry: Entry, *args: Any, **kwargs: Any) -> Observed:
        seen.append(str(entry.meta.get("name")))
        return await observe(entry, *args, **kwargs)

    op.reconciler.observer.observe = counted  # type: ignore[method-assign]
    return seen


async def test_reconciled_resources_catch_up_a_few_at_a_time_and_a_changed_one_goes_at_once() -> None:
    hung, kube = FakeES(), FakeKube()
    hung.polls_open.clear()  # every poll of cluster A waits: passes hold their slots
    op = operator_for({URL_A: hung, URL_B: FakeES("cluster-b")}, kube, catch_up_passes=2)
    seen = _counting(op)
    for n in range(5):
        op.runtime.observe("ADDED", _reconciled(f"r{n}", URL_A))
    await until(lambda: len(seen) == 2, what="two catch-up passes")
    changed = bump(_reconciled("changed", URL_A), numberOfAllocations=2)  # generation 2, status says 1
    op.runtime.observe("ADDED", changed)
    await until(lambda: "changed" in seen, what="the changed resource's pass")
    assert len(seen) == 3  # r2..r4 still wait for a slot
    hung.polls_open.set()
    await until(lambda: len(seen) == 6, what="every pass")
    await op.close()


async def test_a_change_preempts_a_catch_up_pass_waiting_for_a_slot() -> None:
    hung, es_b, kube = FakeES(), FakeES("cluster-b"), FakeKube()
    hung.polls_open.clear()
    op = operator_for({URL_A: hung, URL_B: es_b}, kube, catch_up_passes=1)
    seen = _counting(op)
    op.runtime.observe("ADDED", _reconciled("holder", URL_A))
    await until(lambda: seen == ["holder"], what="the slot taken")
    waiting = _reconciled("waiting", URL_B)
    op.runtime.observe("ADDED", waiting)
    op.runtime.observe("MODIFIED", bump(waiting, numberOfAllocations=3))
    await until(lambda: es_b.deployments.get("waiting") == {"number_of_allocations": 3}, what="the change acted on")
    assert seen == ["holder", "waiting"]
    hung.polls_open.set()
    await op.close()
