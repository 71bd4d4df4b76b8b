"""Resync passes that find nothing changed end before ``decide`` (controller/quiet.py); anything changed runs the
full pass: drift behind the operator's back, a new generation, a failed poll, a status heartbeat that is due."""

from __future__ import annotations

import dataclasses
from collections import Counter
from typing import Any

from esml_operator.controller.memory import Connection, Observed
from esml_operator.controller.quiet import mark, view_digest
from esml_operator.elasticsearch.connections import ConnectionConfig
from esml_operator.elasticsearch.load import InferenceLoad
from esml_operator.elasticsearch.models import ClusterInfo, ClusterSnapshot, EsVersion
from esml_operator.manager.operator import Operator
from tests.unit.reconcile_helpers import observation, stats
from tests.unit.runtime_fakes import FakeES, FakeKube, bump, operator_for, resource, until

URL, URL_B = "https://es-a:9200", "https://es-b:9200"
READY = {"conditions": [{"type": "Ready", "status": "True"}]}


class Outcomes:
    """A pass recorder that counts outcomes."""

    def __init__(self) -> None:
        self.seen: Counter[str] = Counter()

    def observe_pass(self, outcome: str, seconds: float) -> None:
        self.seen[outcome] += 1

    def observe_reaction(self, seconds: float) -> None:
        pass


def _recorded(op: Operator) -> Outcomes:
    outcomes = Outcomes()
    op.reconciler.recorder = outcomes
    return outcomes


async def _round(op: Operator, outcomes: Outcomes, passes: int) -> Counter[str]:
    """One resync round, as the resync loop runs it; the outcomes of its ``passes`` passes."""
    before = outcomes.seen.copy()
    op.reconciler.observer.new_round()
    for uid in op.runtime.registry.uids():
        op.runtime.queue.add(uid)
    await until(lambda: sum((outcomes.seen - before).values()) >= passes, what=f"{passes} passes")
    await until(lambda: not op.runtime.queue.running, what="idle")
    return outcomes.seen - before


async def _steady(names: list[str], **settings: Any) -> tuple[FakeES, FakeKube, Operator, Outcomes]:
    es, kube = FakeES(), FakeKube()
    op = operator_for({URL: es}, kube, resync_interval=3600.0, **settings)  # rounds are run by the test
    outcomes = _recorded(op)
    for name in names:
        op.runtime.observe("ADDED", resource(name, URL, numberOfAllocations=1))
    await until(lambda: len(es.deployments) == len(names), what="started")
    await until(lambda: not op.runtime.queue.running, what="idle")
    await _round(op, outcomes, len(names))  # the passes that see their own start Ready, quietly
    return es, kube, op, outcomes


async def test_a_steady_round_is_one_poll_and_no_decisions() -> None:
    es, kube, op, outcomes = await _steady(["a", "b", "c"])
    polls, patches = es.count("_stats"), len(kube.patches)
    seen = await _round(op, outcomes, 3)
    assert seen == Counter(unchanged=3)
    assert es.count("_stats") == polls + 1  # the round's one poll of the cluster, shared
    assert len(kube.patches) == patches
    await op.close()


async def test_drift_behind_the_operators_back_is_corrected_in_the_next_round() -> None:
    es, _, op, outcomes = await _steady(["a", "b"])
    es.deployments["a"]["number_of_allocations"] = 3  # as if changed in Kibana
    seen = await _round(op, outcomes, 2)
    assert seen["unchanged"] == 1  # b
    assert seen["action_succeeded"] == 1  # a: put back
    assert es.deployments["a"] == {"number_of_allocations": 1}
    await op.close()


async def test_a_new_generation_is_a_full_pass() -> None:
    es, _, op, _ = await _steady(["a"])
    entry = next(iter(op.runtime.registry))
    body = {**entry.body, "metadata": {**entry.body["metadata"], "resourceVersion": "1"}}
    body = bump(body, numberOfAllocations=2)
    body["metadata"]["resourceVersion"] = entry.body["metadata"]["resourceVersion"]  # a generation alone differs
    op.runtime.observe("MODIFIED", body)
    await until(lambda: es.deployments["a"] == {"number_of_allocations": 2}, what="the new spec acted on")
    await op.close()


async def test_a_failed_poll_is_a_full_pass_that_reports_it() -> None:
    es, kube, op, outcomes = await _steady(["a"])
    es.refuse = True
    seen = await _round(op, outcomes, 1)
    assert "unchanged" not in seen
    reachable = {c["type"]: c for c in kube.patches[-1][1]["conditions"]}["ElasticsearchReachable"]
    assert reachable["status"] != "True"
    await op.close()


async def test_a_due_status_heartbeat_is_a_full_pass_that_writes_it() -> None:
    _, kube, op, outcomes = await _steady(["a"], status_heartbeat=7200.0)  # resync 3,600 s: due at 3,600 s old
    assert await _round(op, outcomes, 1) == Counter(unchanged=1)  # lastSyncTime was just written
    entry = next(iter(op.runtime.registry))
    entry.written_status = {**(entry.written_status or {}), "lastSyncTime": "2026-01-01T00:00:00Z"}  # an old one
    patches = len(kube.patches)
    seen = await _round(op, outcomes, 1)
    assert "unchanged" not in seen
    assert len(kube.patches) == patches + 1
    assert kube.patches[-1][1]["lastSyncTime"] != "2026-01-01T00:00:00Z"
    await op.close()


# ------------------------------------------------------------------------------------------------- pure parts


def _snapshot(**overrides: Any) -> ClusterSnapshot:
    return ClusterSnapshot(deployments={"d": stats(deployment_id="d", **overrides)})


def test_the_load_figures_do_not_change_the_view() -> None:
    busy = _snapshot(load=InferenceLoad(pending_requests=7, inference_count=1234))
    assert view_digest(_snapshot(), "d") == view_digest(busy, "d")


def test_allocations_and_presence_change_the_view() -> None:
    steady = view_digest(_snapshot(), "d")
    changed = _snapshot()
    routes = changed.deployments["d"].nodes
    moved = dataclasses.replace(routes[0], current_allocations=2)
    assert view_digest(_snapshot(nodes=(moved, *routes[1:])), "d") != steady
    assert view_digest(ClusterSnapshot(deployments={}), "d") != steady


def _observed(**overrides: Any) -> Observed:
    config = ConnectionConfig(url=URL)
    info = ClusterInfo(EsVersion.parse("9.2.0"), cluster_uuid="u")
    obs = dataclasses.replace(observation(stats(deployment_id="d")), **overrides)
    return Observed(obs, info=info, connection=Connection(config, "fp"))


def test_only_a_quiet_ready_pass_leaves_a_mark() -> None:
    quiet = mark(("7", 1), _observed(), READY, acted=False, requeue=None, id="d")
    assert quiet is not None and (quiet.resource_version, quiet.generation, quiet.secrets_fingerprint) == ("7", 1, "fp")
    assert mark(("7", 1), _observed(), READY, acted=True, requeue=None, id="d") is None
    assert mark(("7", 1), _observed(), READY, acted=False, requeue=1.0, id="d") is None
    not_ready = {"conditions": [{"type": "Ready", "status": "False"}]}
    assert mark(("7", 1), _observed(), not_ready, acted=False, requeue=None, id="d") is None
    assert mark(("7", 1), _observed(snapshot=None), READY, acted=False, requeue=None, id="d") is None
    assert mark(("7", 1), _observed(failed_polls=1), READY, acted=False, requeue=None, id="d") is None
    assert mark(("", 1), _observed(), READY, acted=False, requeue=None, id="d") is None


# -------------------------------------------------------------------------------------- the resync loop's sweep


async def test_the_resync_loop_sweeps_steady_resources_without_passes() -> None:
    es_a, es_b, kube = FakeES(), FakeES("cluster-b"), FakeKube()
    op = operator_for({URL: es_a, URL_B: es_b}, kube, resync_interval=0.2)
    op.runtime.start()  # the resync loop (kopf's start-up handler starts it)
    outcomes = _recorded(op)
    full: list[str] = []
    observe = op.reconciler.observer.observe

    async def counted(entry: Any, *args: Any, **kwargs: Any) -> Any:
        full.append(str(entry.meta.get("name")))
        return await observe(entry, *args, **kwargs)

    op.reconciler.observer.observe = counted  # type: ignore[method-assign]
    queued: list[str] = []
    add = op.runtime.queue.add

    def queue(uid: str, delay: float = 0.0) -> None:
        queued.append(uid)
        add(uid, delay)

    op.runtime.queue.add = queue  # type: ignore[method-assign]
    for name, url in (("a0", URL), ("a1", URL), ("a2", URL), ("b0", URL_B)):
        op.runtime.observe("ADDED", resource(name, url, numberOfAllocations=1))
    await until(lambda: outcomes.seen["unchanged"] >= 4, what="every resource quiet")
    passes, polls, adds = len(full), (es_a.count("_stats"), es_b.count("_stats")), len(queued)
    await until(lambda: outcomes.seen["unchanged"] >= 16, what="three more rounds")
    assert len(full) == passes  # no full pass: each steady resource was only compared
    assert len(queued) == adds  # and not even queued for a pass
    grown = (es_a.count("_stats") - polls[0], es_b.count("_stats") - polls[1])
    assert grown[0] == grown[1] >= 3  # one poll per cluster per round, not one per resource
    es_a.deployments["a1"]["number_of_allocations"] = 3  # changed behind the operator's back
    await until(lambda: es_a.deployments["a1"] == {"number_of_allocations": 1}, what="a1 put back")
    assert set(full[passes:]) == {"a1"}
    assert set(queued[adds:]) == {"uid-a1"}
    await op.close()
