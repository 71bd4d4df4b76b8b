"""429 with ``Retry-After`` and bursts of 503: the operator waits as told and never storms."""

from __future__ import annotations

import itertools
import json
import time

import pytest

from harness.polling import wait_for
from harness.status import converged
from tests.faults.conftest import RESYNC, Env, mdep, patch_spec
from tests.support.polls import stats_polls

MIN_POLL = min(0.5, RESYNC)  # tests/support/operator.py's --min-poll-interval


def spacing(times: list[float]) -> list[float]:
    return [b - a for a, b in itertools.pairwise(times)]


@pytest.mark.faults_smoke
def test_update_429_retry_after_is_honoured(env: Env) -> None:
    sim = env.simulator()
    env.secrets(sim)
    watch = env.watch()
    env.operator()
    env.kube.apply(mdep("ner", sim.local_url))
    wait_for(lambda: converged(env.kube.mdep("ner"), 1), what="Ready")
    retry_after, throttled = 3, 3
    sim.admin(
        "POST",
        "faults",
        {"endpoint": "update", "kind": "status", "status": 429, "retry_after": retry_after, "count": throttled},
    )
    start = time.time()
    patch_spec(env.kube, "ner", numberOfAllocations=2)
    wait_for(lambda: converged(env.kube.mdep("ner"), 2), timeout=throttled * retry_after + 30, what="Ready with 2")
    updates = sim.requests("/deployment/_update", method="POST")
    assert [r["status"] for r in updates] == [429] * throttled + [200], updates
    gaps = spacing([r["wall_time"] for r in updates])
    assert min(gaps) >= retry_after - 0.05, f"retried before Retry-After ({retry_after}s): {gaps}"
    assert max(gaps) <= retry_after + RESYNC + 3, f"waited far longer than Retry-After: {gaps}"
    # While throttled the resource said so, in Elasticsearch's words.
    told = watch.first("ner", lambda v: v.is_("Ready", "False", "es_rejected_execution_exception"), start)
    assert told is not None, json.dumps([v.status.get("conditions") for v in watch.history("ner", start)], indent=1)
    env.record(scenario="429 with Retry-After on _update", faults=1, resources=1, converged=1, retry_gaps=gaps)


def test_bursts_of_503_with_and_without_retry_after_cause_no_storm(env: Env) -> None:
    sim = env.simulator()
    env.secrets(sim)
    env.operator()
    names = [f"r{n}" for n in range(4)]
    for name in names:
        env.kube.apply(mdep(name, sim.local_url, deploymentId=f"dep-{name}"))
    for name in names:
        wait_for(lambda n=name: converged(env.kube.mdep(n), 1), what=f"{name} Ready")  # type: ignore[misc]

    bursts = []
    for retry_after in (None, 5):
        burst = 4
        fault: dict[str, object] = {"endpoint": "stats", "kind": "status", "status": 503, "count": burst}
        if retry_after is not None:
            fault["retry_after"] = retry_after
        start = time.time()
        sim.admin("POST", "faults", fault)
        # The burst is over once its last 503 was sent; then the next poll answers.
        wait_for(lambda: not sim.admin("GET", "faults")["faults"], timeout=burst * 10 + 20, what="the burst consumed")
        polls = stats_polls(sim, since=start)
        failed = [r["wall_time"] for r in polls if r["status"] == 503]
        gaps = spacing(failed)
        # A failed poll is retried after the cluster's back-off (--min-poll-interval, doubling), or Retry-After.
        floor = retry_after if retry_after is not None else MIN_POLL
        assert len(failed) == burst
        assert min(gaps) >= floor - 0.05, f"polled again {min(gaps):.2f}s after a 503 (floor {floor}s): {gaps}"
        bursts.append({"retry_after": retry_after, "gaps": gaps})
        for name in names:
            wait_for(lambda n=name: converged(env.kube.mdep(n), 1), what=f"{name} Ready again")  # type: ignore[misc]
    assert not [r for r in sim.requests("/deployment/_", method="POST")][4:], "a 503 on _stats caused a change"
    env.record(scenario="bursts of 503 on _stats", faults=2, resources=len(names), converged=len(names), bursts=bursts)
