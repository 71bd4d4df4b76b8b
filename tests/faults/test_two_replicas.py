"""Two replicas, one SIGKILLed at random (seeded) while changes are under way: one actor at all times.

The proxy in front of Elasticsearch attributes every request to the process
that sent it (the owner of the connection's socket), so "one actor" is
checked on the wire: the requests never interleave between replicas, and
they change hands only after the old leader died. Takeover is measured
from the SIGKILL to the new leader's first request.
"""

from __future__ import annotations

import itertools
import json
import os
import signal
import time

import pytest

from harness.polling import wait_for
from harness.status import converged
from tests.e2e.conftest import Kube
from tests.faults.conftest import Env, deployment, mdep, seeded

LEASE = "esml-ha"
LEASE_DURATION = 3.0  # conftest.FAST
ROUNDS = 4
NAMES = ("h0", "h1", "h2")


def holder(kube: Kube) -> str:
    out = kube.kubectl("get", "lease", LEASE, "-o", "json", check=False)
    return str(json.loads(out.stdout)["spec"].get("holderIdentity") or "") if out.returncode == 0 else ""


@pytest.mark.faults_smoke
@pytest.mark.timeout(600)
def test_two_replicas_one_killed_at_random_one_actor_and_takeover_measured(env: Env) -> None:
    seed, rng = seeded("two replicas")
    sim = env.simulator(nodes=4, extra=("--processors", "8"))
    proxy = env.proxy(sim)
    env.secrets(sim)
    replicas = [env.operator(lease=LEASE) for _ in range(2)]
    proxy.pids = [op.process.pid for op in replicas]
    wait_for(lambda: holder(env.kube) in {op.identity for op in replicas}, what="a leader")
    desired = dict.fromkeys(NAMES, 1)
    for name in NAMES:
        env.kube.apply(mdep(name, proxy.url, deploymentId=f"dep-{name}"))
    for name in NAMES:
        wait_for(lambda n=name: converged(env.kube.mdep(n), 1), what=f"{name} Ready")  # type: ignore[misc]

    kills: list[tuple[float, int, bool]] = []  # (time, pid, was the leader)
    takeovers: list[float] = []
    leader_kills = 0
    for round_ in range(ROUNDS):
        leader = next(op for op in replicas if op.identity == holder(env.kube))
        # Random victim, but at least one leader must die (the last round makes sure).
        kill_leader = rng.random() < 0.6 or (round_ == ROUNDS - 1 and leader_kills == 0)
        victim = leader if kill_leader else next(op for op in replicas if op is not leader)
        name = rng.choice(NAMES)
        desired[name] = rng.choice([c for c in range(1, 5) if c != desired[name]])
        env.kube.kubectl("scale", "mdep", name, f"--replicas={desired[name]}")
        moment = time.time() + rng.random()
        wait_for(lambda m=moment: time.time() >= m, timeout=2, interval=0.02, what="the random kill moment")  # type: ignore[misc]
        killed = time.time()
        os.kill(victim.process.pid, signal.SIGKILL)
        victim.process.popen.wait(timeout=10)
        kills.append((killed, victim.process.pid, kill_leader))
        replicas.remove(victim)
        survivor = replicas[0]
        if kill_leader:
            leader_kills += 1
            wait_for(lambda s=survivor: holder(env.kube) == s.identity, timeout=LEASE_DURATION + 15, what="takeover")  # type: ignore[misc]
        for n, count in desired.items():
            wait_for(lambda n=n, c=count: converged(env.kube.mdep(n), c), timeout=30, what=f"{n} converged")  # type: ignore[misc]
        if kill_leader:
            first = [s for s in proxy.seen(since=killed) if s.pid == survivor.process.pid]
            assert first, "the new leader sent nothing"
            takeovers.append(first[0].started - killed)
        replacement = env.operator(lease=LEASE)
        replicas.append(replacement)
        proxy.pids = [*proxy.pids, replacement.process.pid]

    for name, count in desired.items():
        assert deployment(sim, f"dep-{name}")["number_of_allocations"] == count  # type: ignore[index]
    requests = proxy.seen()
    unknown = [s for s in requests if s.pid is None]
    assert len(unknown) <= len(requests) // 20, f"{len(unknown)} of {len(requests)} requests not attributed"
    actors = [s.pid for s in requests if s.pid is not None]
    switches = [(a, b) for a, b in itertools.pairwise(actors) if a != b]
    leader_pids = {pid for _, pid, was_leader in kills if was_leader}
    # Requests change hands once per dead leader, and only from that dead leader.
    assert len(switches) == leader_kills, f"seed {seed}: requests interleaved between replicas: {switches}"
    assert {a for a, _ in switches} <= leader_pids, (switches, kills)
    for pid in {s.pid for s in requests if s.pid is not None}:
        died = next((t for t, p, _ in kills if p == pid), None)
        if died is not None:
            assert max(s.started for s in requests if s.pid == pid) <= died + 0.5, f"{pid} acted after SIGKILL"
    print(f"seed {seed}: {len(kills)} kills ({leader_kills} leaders); takeovers {[round(t, 2) for t in takeovers]}s")
    env.record(
        scenario="two replicas, one SIGKILLed at random",
        faults=len(kills),
        resources=len(NAMES),
        converged=len(NAMES),
        takeovers=takeovers,
        seed=seed,
    )
