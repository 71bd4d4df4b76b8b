"""One cluster hangs while two others stay healthy: the healthy clusters' reaction time does not change.

Reaction time is measured from ``kubectl patch`` to the ``_update`` arriving
at the healthy simulator, several times before the hang and several times
during it; the healthy clusters' polls must keep their rhythm too.
"""

from __future__ import annotations

import statistics
import time

import pytest

from harness.polling import wait_for
from harness.status import converged
from tests.faults.conftest import RESYNC, Env, PlantedSimulator, condition, mdep, poll_gaps, reaction

pytestmark = pytest.mark.faults_smoke

#: How much slower a healthy cluster may react while another hangs: scheduling noise on a busy 2-core machine
#: (a cluster that waited on the hung one would be late by the request timeout, 5 s).
SLACK = 2.0


def measure(env: Env, targets: list[tuple[str, PlantedSimulator]], counts: list[int]) -> list[float]:
    """Scale each healthy resource to each of ``counts`` in turn, returning every reaction time."""
    return [reaction(env.kube, sim, name, f"dep-{name}", count) for count in counts for name, sim in targets]


def test_a_hung_cluster_does_not_slow_two_healthy_ones(env: Env) -> None:
    hung, east, west = env.simulator(), env.simulator(), env.simulator()
    for sim in (hung, east, west):
        sim.admin("DELETE", "requests")
    env.secrets(hung)
    # One CA Secret per simulator (each has its own CA); the planted API key works on all three.
    for sim, ca in ((east, "east-ca"), (west, "west-ca")):
        env.kube.secret(ca, {"ca.crt": sim.ca_pem, "ca.key": sim.ca.key.read_bytes()})  # type: ignore[union-attr]
    env.operator()
    stuck = [f"stuck-{n}" for n in range(4)]
    for name in stuck:
        env.kube.apply(mdep(name, hung.local_url, deploymentId=f"dep-{name}"))
    for name, sim, ca in (("east", east, "east-ca"), ("west", west, "west-ca")):
        env.kube.apply(
            mdep(name, sim.local_url, deploymentId=f"dep-{name}", elasticsearch={"caSecretRef": {"name": ca}})
        )
    for name in [*stuck, "east", "west"]:
        wait_for(lambda n=name: converged(env.kube.mdep(n), 1), what=f"{name} Ready")  # type: ignore[misc]
    targets = [("east", east), ("west", west)]

    before = measure(env, targets, [2, 3, 2])
    hang_start = time.time()
    hung.admin("POST", "faults", {"endpoint": "any", "kind": "hang"})
    for name in stuck:
        wait_for(
            lambda n=name: condition(env.kube, n, "ElasticsearchReachable", "False"),
            timeout=30,  # type: ignore[misc]
            what=f"{name} reported unreachable",
        )
    during = measure(env, targets, [3, 2, 3])
    hang_end = time.time()
    gaps = [poll_gaps(sim, hang_start, hang_end) for _, sim in targets]
    hung_requests = [r for r in hung.requests() if hang_start <= r["wall_time"] <= hang_end]
    hung.admin("DELETE", "faults")
    for name in stuck:
        wait_for(lambda n=name: converged(env.kube.mdep(n), 1), timeout=60, what=f"{name} Ready after the hang")  # type: ignore[misc]

    print(f"reaction before {before}, during {during}; longest poll gaps {gaps}")
    assert statistics.median(during) <= statistics.median(before) + SLACK / 2, (before, during)
    assert max(during) <= max(before) + SLACK, (before, during)
    assert max(gaps) <= RESYNC + SLACK, f"a healthy cluster went {max(gaps):.1f}s without a poll"
    assert len(hung_requests) <= (hang_end - hang_start) / 5 + 3, f"{len(hung_requests)} hung requests: pile-up"
    env.record(
        scenario="one cluster hung, two healthy",
        faults=1,
        resources=6,
        converged=6,
        reaction={"before": before, "during": during},
        gaps=gaps,
        outages=[
            {
                "name": "hung cluster (isolation)",
                "seconds": hang_end - hang_start,
                "requests": len(hung_requests),
                "connects": None,
            }
        ],
    )
