"""A pass decides on one version of its resource: a watch event arriving mid-pass never mixes in.

The faults suite's SIGKILL trials caught a status that said ``observedGeneration: 2``, Ready True,
``FullyAllocated`` 3 of 3 while generation 2's spec asked for 4: the pass had read the spec before
awaiting its observation and the generation after it, when the watch had already delivered generation 2.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

from tests.unit.runtime_fakes import FakeES, FakeKube, operator_for, resource, until

URL = "https://es-a:9200"


def _next(body: dict[str, Any], **spec: Any) -> dict[str, Any]:
    meta = dict(body["metadata"])
    meta["generation"] += 1
    meta["resourceVersion"] = str(int(meta["resourceVersion"]) + 1)
    return {**body, "metadata": meta, "spec": {**body["spec"], **spec}}


async def test_a_new_generation_arriving_during_a_pass_is_not_reported_with_the_old_spec() -> None:
    es, kube = FakeES(), FakeKube()
    op = operator_for({URL: es}, kube)
    body = resource("ner", URL, numberOfAllocations=1)
    op.runtime.observe("ADDED", body)
    await until(lambda: es.deployments.get("ner") == {"number_of_allocations": 1}, what="start")
    await until(lambda: not op.runtime.queue.running, what="idle")

    observer = op.reconciler.observer
    real_observe = observer.observe
    observing, resume = asyncio.Event(), asyncio.Event()

    async def slow_observe(*args: Any, **kwargs: Any) -> Any:  # the poll takes a while ...
        found = await real_observe(*args, **kwargs)
        observing.set()
        await resume.wait()
        return found

    observer.observe = slow_observe  # type: ignore[method-assign]
    op.runtime.queue.add("uid-ner")  # a pass over generation 1 (as the resync loop queues it)
    await until(observing.is_set, what="the pass observing")
    observer.observe = real_observe  # type: ignore[method-assign]
    op.runtime.observe("MODIFIED", _next(body, numberOfAllocations=2))  # ... and the watch delivers generation 2
    resume.set()
    await until(lambda: es.deployments["ner"]["number_of_allocations"] == 2, what="the change sent")
    await until(lambda: (2, "True") in _reported(kube), what="generation 2 reported Ready")
    reported = [(_generation(status), status.get("desiredAllocations")) for _, status in kube.patches]
    # Every status names the generation whose spec it was decided on: generation n asks for n allocations.
    assert (2, "2") in reported and all(desired == str(generation) for generation, desired in reported), reported
    ready = [status for _, status in kube.patches if (_generation(status), _ready(status)) == (2, "True")]
    assert all(status.get("allocations") == 2 for status in ready), f"Ready with generation 1's count: {ready}"
    await op.close()


def _generation(status: Mapping[str, Any]) -> Any:
    return status.get("observedGeneration")


def _ready(status: Mapping[str, Any]) -> Any:
    return {c["type"]: c for c in status.get("conditions", [])}.get("Ready", {}).get("status")


def _reported(kube: FakeKube) -> list[tuple[Any, Any]]:
    return [(_generation(status), _ready(status)) for _, status in kube.patches]
