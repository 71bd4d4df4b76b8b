"""Elasticsearch unreachable for 60 s: 30 s refusing connections, then 30 s accepting and never answering.

Meanwhile Kibana changes one deployment behind the operator's back and a user
changes another resource's spec. The conditions must say what is wrong within
one request timeout, the requests during the outage must stay few (back-off
and single-flight connects, no hot loop), and everything converges once
Elasticsearch answers again, with no manual action and no wasted call.
"""

from __future__ import annotations

import time

import pytest

from harness.polling import wait_for
from harness.status import converged
from tests.faults.conftest import REQUEST_TIMEOUT, RESYNC, Env, deployment, mdep, patch_spec, writes
from tests.faults.watch import StatusWatch

PHASE = 30.0  # seconds of each kind of outage
NAMES = ["a", "b", "c", "d", "e"]
#: While refused: one poll per resync interval for the whole cluster, however many resources use it (+ slack).
MAX_REFUSED_CONNECTS = PHASE / RESYNC + 3
#: While hung: one poll in flight per cluster, each held for a request timeout, the next within a resync interval.
MAX_HUNG_REQUESTS = PHASE / REQUEST_TIMEOUT + 3


def unreachable_since(watch: StatusWatch, names: list[str], since: float, words: str) -> float | None:
    """When the last of ``names`` got ``ElasticsearchReachable`` False with ``words`` in its message."""
    times = []
    for name in names:
        found = watch.first(
            name,
            lambda v: (
                v.is_("ElasticsearchReachable", "False")
                and words in (v.condition("ElasticsearchReachable") or {}).get("message", "")
            ),
            since,
        )
        if found is None:
            return None
        times.append(found.seen)
    return max(times)


@pytest.mark.timeout(400)
def test_sixty_seconds_unreachable_then_convergence_without_manual_action(env: Env) -> None:
    sim = env.simulator()
    proxy = env.proxy(sim)
    env.secrets(sim)
    watch = env.watch()
    env.operator()
    names = NAMES
    for name in names:
        env.kube.apply(mdep(name, proxy.url, deploymentId=f"dep-{name}"))
    for name in names:
        wait_for(lambda n=name: converged(env.kube.mdep(n), 1), what=f"{name} Ready")  # type: ignore[misc]

    # -- 30 s refusing connections ------------------------------------------------------------------
    start = time.time()
    proxy.set_mode("reset")
    refused_at = wait_for(
        lambda: unreachable_since(watch, names, start, "Could not reach"),
        timeout=RESYNC + REQUEST_TIMEOUT + 10,
        what="ElasticsearchReachable False after the refusals",
    )
    first_refusal = proxy.connects(since=start)[0].accepted
    assert refused_at - first_refusal <= REQUEST_TIMEOUT, (refused_at - first_refusal, "slower than a request timeout")
    # Out-of-band changes during the outage: Kibana scales dep-b, a user changes c's spec.
    sim.admin("POST", "deployments/dep-b/_set_allocations", {"number_of_allocations": 2})
    patch_spec(env.kube, "c", numberOfAllocations=2)
    time.sleep(max(0.0, start + PHASE - time.time()))  # the outage lasts its time: nothing to wait for
    refused_connects = len(proxy.connects(since=start))

    # -- 30 s accepting and never answering ---------------------------------------------------------
    hang_start = time.time()
    proxy.set_mode("hang")
    first_hung = wait_for(lambda: proxy.seen(since=hang_start), timeout=RESYNC + 15, what="a hung request")[0].started
    hung_at = wait_for(
        lambda: unreachable_since(watch, names, first_hung, "Timed out"),
        timeout=REQUEST_TIMEOUT + 15,
        what="ElasticsearchReachable False saying the requests time out",
    )
    assert hung_at - first_hung <= REQUEST_TIMEOUT + 2.0, (hung_at - first_hung, "more than one request timeout")
    time.sleep(max(0.0, hang_start + PHASE - time.time()))
    hung_requests = len(proxy.seen(since=hang_start))
    hung_connects = len(proxy.connects(since=hang_start))
    outage_writes = writes(sim, since=start)
    assert outage_writes == [], outage_writes  # nothing reached Elasticsearch

    # -- back: converge without manual action -------------------------------------------------------
    back = time.time()
    proxy.set_mode("pass")
    for name, count in {**dict.fromkeys(names, 1), "c": 2}.items():
        wait_for(lambda n=name, c=count: converged(env.kube.mdep(n), c), timeout=90, what=f"{name} converged")  # type: ignore[misc]
    recovered = time.time() - back
    assert deployment(sim, "dep-b")["number_of_allocations"] == 1  # type: ignore[index]
    assert deployment(sim, "dep-c")["number_of_allocations"] == 2  # type: ignore[index]
    sent = writes(sim, since=back)
    assert sorted((r["path"].split("/")[3], r["body"]) for r in sent) == [
        ("dep-b", {"number_of_allocations": 1}),
        ("dep-c", {"number_of_allocations": 2}),
    ], sent  # one correction each, no _start

    print(
        f"refused: {refused_connects} connects in {PHASE:.0f}s; hung: {hung_requests} requests, "
        f"{hung_connects} connects in {PHASE:.0f}s; recovered in {recovered:.1f}s"
    )
    assert refused_connects <= MAX_REFUSED_CONNECTS, f"{refused_connects} connections in {PHASE:.0f}s: a hot loop"
    assert hung_requests <= MAX_HUNG_REQUESTS, f"{hung_requests} hung requests in {PHASE:.0f}s: calls pile up"
    env.record(
        scenario="Elasticsearch unreachable 60 s (refused, then hung)",
        faults=2,
        resources=len(names),
        converged=len(names),
        outages=[
            {"name": "refused 30 s", "seconds": PHASE, "requests": 0, "connects": refused_connects},
            {"name": "hung 30 s", "seconds": PHASE, "requests": hung_requests, "connects": hung_connects},
        ],
        detection={"refused": refused_at - first_refusal, "hung": hung_at - first_hung},
        gaps=[recovered],
    )
