"""The real runtime objects against in-memory Kubernetes and Elasticsearch: reaction, coalescing, the
never-start-twice rule, isolation, leadership and deletion."""

from __future__ import annotations

import asyncio
import math
from collections import Counter
from typing import Any

import pytest

from esml_operator.controller import reconciler
from esml_operator.kube import errors as kube_errors
from tests.unit.runtime_fakes import FakeES, FakeKube, deleting, operator_for, resource, until
from tests.unit.test_runtime_quiet import _recorded, _round

URL_A, URL_B = "https://es-a:9200", "https://es-b:9200"


def _ready(kube: FakeKube, name: str) -> bool:
    patches = [status for who, status in kube.patches if who == name]
    if not patches:
        return False
    conditions = {c["type"]: c for c in patches[-1].get("conditions", [])}
    return bool(conditions.get("Ready", {}).get("status") == "True")


def _bump(body: dict[str, Any], **spec: Any) -> dict[str, Any]:
    meta = dict(body["metadata"])
    meta["generation"] += 1
    meta["resourceVersion"] = str(int(meta["resourceVersion"]) + 1)
    return {**body, "metadata": meta, "spec": {**body["spec"], **spec}}


async def test_a_change_right_after_another_is_sent_without_waiting_for_a_poll() -> None:
    es, kube = FakeES(), FakeKube()
    op = operator_for({URL_A: es}, kube, min_poll_interval=5.0)  # a poll-gated second change would wait 5 s
    body = resource("ner", URL_A, numberOfAllocations=1)
    op.runtime.observe("ADDED", body)
    await until(lambda: es.deployments.get("ner") == {"number_of_allocations": 1}, what="start")
    for count in (2, 3, 4):
        body = _bump(body, numberOfAllocations=count)
        op.runtime.observe("MODIFIED", body)
        await until(lambda c=count: es.deployments["ner"]["number_of_allocations"] == c, within=1.0, what=f"{count}")
    assert es.count("_update") == 3
    assert es.count("_stats") == 1  # each _update answer was the observation the next change acted on
    assert es.count("_start") == 1
    await op.close()


async def test_a_burst_coalesces_into_few_calls_carrying_the_latest_value() -> None:
    es, kube = FakeES(update_delay=0.02), FakeKube()
    op = operator_for({URL_A: es}, kube, action_burst=4, action_rate=3.0)
    body = resource("ner", URL_A, numberOfAllocations=1)
    op.runtime.observe("ADDED", body)
    await until(lambda: "ner" in es.deployments, what="start")
    loop = asyncio.get_running_loop()
    began = loop.time()
    for n in range(200):  # 200 changes within about one second (longer on a loaded machine)
        body = _bump(body, numberOfAllocations=1 + n % 7)
        op.runtime.observe("MODIFIED", body)
        await asyncio.sleep(0.005)
    final = 1 + 199 % 7
    await until(lambda: es.deployments["ner"]["number_of_allocations"] == final, within=5.0, what="final value")
    await until(lambda: not op.runtime.queue.running, what="idle")
    elapsed = loop.time() - began
    # 4 at once, then 3 per second for as long as the burst and its follow-up took, plus that follow-up.
    assert es.count("_update") <= 4 + math.ceil(3 * elapsed) + 1, (es.count("_update"), elapsed)
    assert es.deployments["ner"]["number_of_allocations"] == final
    await op.close()


async def test_changes_right_after_a_start_never_start_it_twice() -> None:
    es, kube = FakeES(), FakeKube()
    op = operator_for({URL_A: es}, kube, min_poll_interval=5.0)
    body = resource("ner", URL_A, numberOfAllocations=1)
    op.runtime.observe("ADDED", body)
    await until(lambda: "ner" in es.deployments, what="start")
    for count in (2, 3):  # arrive while the only snapshot (taken before the start) still says "missing"
        body = _bump(body, numberOfAllocations=count)
        op.runtime.observe("MODIFIED", body)
    await until(lambda: es.deployments.get("ner") == {"number_of_allocations": 3}, what="latest value")
    assert es.count("_start") == 1
    await op.close()


async def test_a_hung_cluster_does_not_delay_a_healthy_one() -> None:
    hung, healthy, kube = FakeES("hung"), FakeES("healthy"), FakeKube()
    hung.hang.clear()
    op = operator_for({URL_A: hung, URL_B: healthy}, kube, request_timeout=30.0)
    for n in range(50):
        op.runtime.observe("ADDED", resource(f"hung-{n}", URL_A))
    op.runtime.observe("ADDED", resource("healthy", URL_B))
    await until(lambda: _ready(kube, "healthy"), within=2.0, what="the healthy resource Ready")
    assert hung.count("GET /") == 1  # 50 resources, one connect attempt (single-flight)
    hung.hang.set()
    await op.close()


async def test_a_refusing_cluster_is_reported_and_not_retried_per_resource() -> None:
    dead, kube = FakeES("dead"), FakeKube()
    dead.refuse = True
    op = operator_for({URL_A: dead}, kube)
    started = asyncio.get_running_loop().time()
    for n in range(50):
        op.runtime.observe("ADDED", resource(f"r{n}", URL_A))

    def reported(name: str) -> bool:
        last = [s for who, s in kube.patches if who == name]
        conditions = {c["type"]: c for c in last[-1]["conditions"]} if last else {}
        return bool(conditions.get("ElasticsearchReachable", {}).get("status") == "False")

    await until(lambda: all(reported(f"r{n}") for n in range(50)), what="all reported unreachable")
    # One attempt per step of the connection back-off (at 0, 1, 3, 7 s, ...), however many resources wait.
    elapsed = asyncio.get_running_loop().time() - started
    assert dead.count("GET /") <= 1 + math.log2(1 + elapsed)
    await op.close()


async def test_a_follower_neither_calls_elasticsearch_nor_writes() -> None:
    es, kube = FakeES(), FakeKube()
    op = operator_for({URL_A: es}, kube, leading=False)
    op.runtime.observe("ADDED", resource("ner", URL_A, deletionPolicy="Stop"))
    await until(lambda: not op.runtime.queue.running and not op.runtime.queue.pending("uid-ner"), what="idle")
    await op.writer.events.drain()
    assert es.calls == [] and kube.patches == [] and kube.finalizer_writes == [] and kube.events == []
    assert len(op.runtime.registry) == 1  # but it knows the resource, ready to take over
    await op.close()


async def test_stop_policy_adds_the_finalizer_and_deletion_stops_then_releases_it() -> None:
    es, kube = FakeES(), FakeKube()
    op = operator_for({URL_A: es}, kube)
    body = resource("ner", URL_A, deletionPolicy="Stop")
    op.runtime.observe("ADDED", body)
    await until(lambda: kube.finalizer_writes == [("ner", ["esml.io/stop-deployment"])], what="finalizer added")
    await until(lambda: "ner" in es.deployments, what="started")
    op.runtime.observe("MODIFIED", deleting(body))
    await until(lambda: ("ner", []) in kube.finalizer_writes, what="finalizer released")
    assert "ner" not in es.deployments
    assert es.count("_stop") == 1
    await op.close()


async def test_a_paused_resource_is_released_without_calling_elasticsearch() -> None:
    es, kube = FakeES(), FakeKube()
    op = operator_for({URL_A: es}, kube)
    body = resource("ner", URL_A, deletionPolicy="Stop", paused=True)
    op.runtime.observe("ADDED", deleting(body))
    await until(lambda: ("ner", []) in kube.finalizer_writes, what="finalizer released")
    assert es.calls == []
    await op.close()


async def test_a_blocked_deletion_says_so_and_names_the_way_out() -> None:
    es, kube = FakeES(), FakeKube()
    es.refuse = True
    op = operator_for({URL_A: es}, kube)
    body = resource("ner", URL_A, deletionPolicy="Stop")
    op.runtime.observe("ADDED", deleting(body))
    await until(lambda: kube.patches, what="a status write")
    ready = {c["type"]: c for c in kube.patches[-1][1]["conditions"]}["Ready"]
    assert (ready["status"], ready["reason"]) == ("False", "DeletionBlocked")
    assert "spec.paused: true" in ready["message"] and "esml.io/skip-stop=true" in ready["message"]
    assert kube.finalizer_writes == []
    await op.close()


async def test_a_deletion_blocked_by_an_unreachable_elasticsearch_does_not_say_connected() -> None:
    """Issue 17 item 4: the resource was Connected; the deletion pass finds Elasticsearch gone and says so."""
    es, kube = FakeES(), FakeKube()
    op = operator_for({URL_A: es}, kube)
    body = resource("ner", URL_A, deletionPolicy="Stop")
    op.runtime.observe("ADDED", body)
    await until(lambda: _ready(kube, "ner"), what="Ready")
    es.refuse = True
    op.runtime.observe("MODIFIED", deleting(body))

    def blocked() -> dict[str, Any] | None:
        found = {c["type"]: c for c in kube.patches[-1][1]["conditions"]}
        return found if found["Ready"]["reason"] == "DeletionBlocked" else None

    await until(lambda: blocked() is not None, what="DeletionBlocked")
    reachable = blocked()["ElasticsearchReachable"]  # type: ignore[index]
    assert (reachable["status"], reachable["reason"]) == ("False", "ConnectionFailedError"), reachable
    await op.close()


async def test_a_steady_resource_is_written_once() -> None:
    es, kube = FakeES(), FakeKube()
    op = operator_for({URL_A: es}, kube)
    outcomes = _recorded(op)
    op.runtime.observe("ADDED", resource("ner", URL_A))
    await until(lambda: _ready(kube, "ner"), what="Ready")
    await _round(op, outcomes, 1)  # the pass that verifies the start with a poll (it adds the node names)
    writes = len(kube.patches)
    for _ in range(5):  # resync rounds, each waited for until its pass has ended
        assert await _round(op, outcomes, 1) == Counter(unchanged=1)
    assert len(kube.patches) == writes
    await op.close()


async def test_an_unexpected_failure_is_logged_with_the_resource_and_the_next_pass_runs(
    caplog: pytest.LogCaptureFixture,
) -> None:
    es, kube = FakeES(), FakeKube()
    failing = True
    original = kube.patch_status

    async def patch_once(namespace: str, name: str, status: Any) -> None:
        nonlocal failing
        if failing:
            failing = False
            raise RuntimeError("boom")
        await original(namespace, name, status)

    kube.patch_status = patch_once  # type: ignore[method-assign]
    op = operator_for({URL_A: es}, kube)
    op.runtime.observe("ADDED", resource("ner", URL_A))
    await until(lambda: "the pass failed unexpectedly" in caplog.text, what="the failure logged")
    assert "ns/ner: the pass failed unexpectedly" in caplog.text
    op.runtime.queue.add("uid-ner")  # the resync
    await until(lambda: _ready(kube, "ner"), what="Ready on the next pass")
    await op.close()


async def test_a_change_is_verified_by_a_poll_after_it_and_only_then_ready() -> None:
    es, kube = FakeES(), FakeKube()
    es.lagging_answers = True
    op = operator_for({URL_A: es}, kube, resync_interval=3600.0)  # no resync: only the follow-up can poll
    body = resource("ner", URL_A, numberOfAllocations=1)
    op.runtime.observe("ADDED", body)
    await until(lambda: _ready(kube, "ner"), what="Ready")
    polls = es.count("_stats")
    op.runtime.observe("MODIFIED", _bump(body, numberOfAllocations=3))
    await until(lambda: es.count("_update") == 1, what="the update")
    assert not _ready(kube, "ner")  # the _update answer shows 1 of 3: not Ready on it
    await until(lambda: _ready(kube, "ner"), within=2.0, what="Ready after a poll newer than the change")
    assert es.count("_stats") == polls + 1
    await op.writer.events.drain()
    assert [reason for _, reason, _ in kube.events[-2:]] == ["DeploymentUpdated", "Ready"]  # Ready flipped later
    await op.close()


async def test_a_change_whose_answer_shows_the_target_costs_one_status_write_and_one_event() -> None:
    es, kube = FakeES(), FakeKube()
    op = operator_for({URL_A: es}, kube, resync_interval=3600.0)  # no resync: only the follow-up can poll

    async def idle() -> None:
        await until(lambda: not op.runtime.queue.running and not op.runtime.queue.pending("uid-ner"), what="idle")
        await op.writer.events.drain()

    body = resource("ner", URL_A, numberOfAllocations=1)
    op.runtime.observe("ADDED", body)
    await until(lambda: _ready(kube, "ner"), what="Ready")
    await idle()
    writes, events, polls = len(kube.patches), len(kube.events), es.count("_stats")
    op.runtime.observe("MODIFIED", _bump(body, numberOfAllocations=3))
    await until(lambda: es.count("_stats") == polls + 1, within=2.0, what="the follow-up poll")
    await idle()
    assert es.count("_update") == 1
    assert len(kube.patches) == writes + 1  # Ready at 3 from the answer; the follow-up poll agreed
    assert [reason for _, reason, _ in kube.events[events:]] == ["DeploymentUpdated"]
    await op.close()


async def test_liveness_fails_once_the_resync_loop_has_died() -> None:
    es, kube = FakeES(), FakeKube()
    op = operator_for({URL_A: es}, kube, resync_interval=0.05)

    def broken_round() -> None:
        raise RuntimeError("resync bug")

    op.runtime._on_round = broken_round
    op.runtime.start()
    assert op.runtime.healthy()
    await until(lambda: not op.runtime.healthy(), what="the resync loop's death noticed")
    await op.close()


class _BusyApiServer(FakeKube):
    """The first ``failures`` status patches get no answer in time (an API server too busy)."""

    def __init__(self, failures: int) -> None:
        super().__init__()
        self.failures = failures

    async def patch_status(self, namespace: str, name: str, status: Any) -> None:
        if self.failures > 0:
            self.failures -= 1
            raise kube_errors.Timeout(f"patching status of {namespace}/{name}: no answer within the request timeout")
        await super().patch_status(namespace, name, status)


async def test_a_status_patch_the_api_server_did_not_answer_is_retried_soon_without_a_traceback(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(reconciler, "KUBE_RETRY", (0.2, 0.3))
    es, kube = FakeES(), _BusyApiServer(failures=2)
    op = operator_for({URL_A: es}, kube, resync_interval=3600.0)  # no resync: only the retry can write it
    op.runtime.observe("ADDED", resource("ner", URL_A, numberOfAllocations=1))
    await until(lambda: _ready(kube, "ner"), within=5.0, what="Ready after two unanswered status patches")
    assert es.count("_start") == 1  # the retries did not start it again
    warnings = [r for r in caplog.records if "no answer within the request timeout" in r.getMessage()]
    assert len(warnings) == 2 and all(r.exc_info is None and "runs again in" in r.getMessage() for r in warnings)
    assert "failed unexpectedly" not in caplog.text
    await op.close()
