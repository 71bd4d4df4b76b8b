"""Slow Elasticsearch: every answer takes 5 to 30 s (seeded), for a minute.

The request timeout (8 s here) fires, the calls for one deployment never pile
up (at most one in flight per request, as the proxy sees it), the resource
says what is going on, another cluster is not affected, and once answers are
fast again the change made meanwhile goes through.
"""

from __future__ import annotations

import time

import pytest

from harness.polling import wait_for
from harness.status import converged
from tests.faults.conftest import Env, condition, deployment, mdep, patch_spec, poll_gaps, reaction, seeded
from tests.faults.proxy import Rule

REQUEST_TIMEOUT = 8.0
SLOW_FOR = 60.0
SLACK = 2.0  # scheduling noise on a busy machine; waiting on the slow cluster would cost the request timeout


@pytest.mark.timeout(400)
def test_slow_answers_time_out_without_piling_up_and_leave_other_clusters_alone(env: Env) -> None:
    seed, rng = seeded("slow responses")
    slow, healthy = env.simulator(), env.simulator()
    proxy = env.proxy(slow)
    env.secrets(slow)
    env.kube.secret("healthy-ca", {"ca.crt": healthy.ca_pem, "ca.key": healthy.ca.key.read_bytes()})  # type: ignore[union-attr]
    env.operator("--request-timeout", str(REQUEST_TIMEOUT))
    names = ["s0", "s1", "s2"]
    for name in names:
        env.kube.apply(mdep(name, proxy.url, deploymentId=f"dep-{name}"))
    env.kube.apply(
        mdep("fast", healthy.local_url, deploymentId="dep-fast", elasticsearch={"caSecretRef": {"name": "healthy-ca"}})
    )
    for name in [*names, "fast"]:
        wait_for(lambda n=name: converged(env.kube.mdep(n), 1), what=f"{name} Ready")  # type: ignore[misc]
    before = [reaction(env.kube, healthy, "fast", "dep-fast", n) for n in (2, 1)]

    start = time.time()
    delays: list[float] = []

    def delay() -> float:
        delays.append(rng.uniform(5.0, 30.0))
        return delays[-1]

    proxy.add_rule(Rule("*", ".*", delay=delay))
    patch_spec(env.kube, "s0", numberOfAllocations=2)  # a change that must wait for the slowness to pass
    told = wait_for(
        lambda: condition(env.kube, "s1", "ElasticsearchReachable", "False"),
        timeout=2 * REQUEST_TIMEOUT + 10,
        what="s1 reports the timeouts",
    )
    assert "Timed out" in told["message"], told
    during = []
    while time.time() < start + SLOW_FOR:  # not a wait: measure again and again while the slow phase lasts
        during += [reaction(env.kube, healthy, "fast", "dep-fast", n) for n in (2, 1)]
    end = time.time()
    seen = proxy.seen(since=start)
    proxy.clear_rules()
    wait_for(lambda: converged(env.kube.mdep("s0"), 2), timeout=60, what="s0 scaled once answers are fast again")
    for name in names[1:]:
        wait_for(lambda n=name: converged(env.kube.mdep(n), 1), timeout=30, what=f"{name} Ready again")  # type: ignore[misc]
    assert deployment(slow, "dep-s0")["number_of_allocations"] == 2  # type: ignore[index]

    at_once = proxy.concurrency(since=start)
    piled = {key: n for key, n in at_once.items() if n > 1}
    gap = poll_gaps(healthy, start, end)
    print(
        f"{len(seen)} slow requests, delays {[round(d) for d in delays]}; fast reacted in {max(before):.2f}s, "
        f"then at most {max(during):.2f}s; "
        f"most in flight at once {at_once}; healthy poll gap {gap:.1f}s"
    )
    assert not piled, f"calls piled up: {piled}"
    answered = [s for s in seen if s.status is not None]
    abandoned = [s for s in seen if s.status is None and s.ended is not None]
    assert abandoned, "no request timed out"
    assert all(s.ended - s.started <= REQUEST_TIMEOUT + 1.5 for s in abandoned), "the client waited past its timeout"  # type: ignore[operator]
    assert len(seen) <= SLOW_FOR / REQUEST_TIMEOUT * 2 + 4, f"{len(seen)} requests in {SLOW_FOR:.0f}s"
    assert max(during) <= max(before) + SLACK, (before, during)
    assert gap <= 2.0 + SLACK, f"the healthy cluster went {gap:.1f}s without a poll"
    env.record(
        scenario="slow answers (5-30 s) for 60 s",
        faults=1,
        resources=4,
        converged=4,
        seed=seed,
        outages=[
            {
                "name": "slow 60 s",
                "seconds": end - start,
                "requests": len(seen),
                "connects": None,
                "answered": len(answered),
            }
        ],
        gaps=[gap],
        reaction={"before": before, "during": during},
    )
