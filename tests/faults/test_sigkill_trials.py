"""The operator SIGKILLed at random points of a reconcile, 20+ trials with seeded randomness.

Each trial changes something (a count, or a resource deleted and created
again), then kills the operator process at a point drawn from the seed:

* ``delay``: a random moment in the first second after the change;
* ``before-write``: as the change's ``_start``/``_update`` reaches the proxy (Elasticsearch never sees it);
* ``after-write``: once Elasticsearch has applied it, before the operator reads the answer;
* ``after-answer``: a random moment in the 300 ms after the operator got the answer;
* ``during-poll``: as the next ``_stats`` poll reaches the proxy.

A new process (a new leader) must then converge everything. Elasticsearch
must never see a wrong call (a change to the wrong value, a ``_start`` of a
deployment that exists, a ``_stop``, an error answer); repeats of the right
call are idempotent and only counted. Across all trials the status never
regresses: ``observedGeneration`` and ``lastSyncTime`` never go back, and
``Ready`` is never True with a count other than its generation's spec.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import pytest

from harness.polling import wait_for
from harness.status import converged
from tests.faults.conftest import Env, PlantedSimulator, deployment, from_operator, mdep, seeded
from tests.faults.proxy import FaultProxy, Reply, Rule
from tests.faults.watch import StatusWatch
from tests.support.operator import OperatorProcess
from tests.support.polls import STATS_POLL_RE

TRIALS = 20
NAMES = ("k0", "k1", "k2")
POINTS = ("delay", "before-write", "after-write", "after-answer", "during-poll")
RESYNC = 1.0
WRITES = r"/deployment/_(start|update|stop)$"


@dataclass
class Trial:
    number: int
    change: str
    point: str
    killed_at: float = 0.0
    converged_after: float = 0.0
    wrong: list[str] = field(default_factory=list)
    writes: int = 0
    repeats: int = 0


class Killer:
    """Arms one proxy rule that SIGKILLs the operator at the trial's point; ``fire()`` kills it anyway."""

    def __init__(self, proxy: FaultProxy, op: OperatorProcess, point: str, rng_delay: float) -> None:
        self.op, self.point, self.delay = op, point, rng_delay
        self.done = threading.Event()
        self._lock = threading.Lock()
        if point == "before-write":
            proxy.add_rule(Rule("POST", WRITES, answer=self._kill_then_nothing, upstream=False, count=1))
        elif point == "after-write":
            proxy.add_rule(Rule("POST", WRITES, answer=self._kill_then_answer, count=1))
        elif point == "after-answer":
            proxy.add_rule(Rule("POST", WRITES, answer=self._answer_then_kill, count=1))
        elif point == "during-poll":
            proxy.add_rule(Rule("GET", STATS_POLL_RE, answer=self._kill_then_nothing, upstream=False, count=1))

    def fire(self) -> None:
        with self._lock:
            if not self.done.is_set():
                self.done.set()
                os.kill(self.op.process.pid, signal.SIGKILL)

    def _kill_then_nothing(self, _: Reply | None) -> Reply:
        self.fire()
        return Reply(503, b"")  # never delivered: its client is gone

    def _kill_then_answer(self, reply: Reply | None) -> Reply:
        self.fire()
        assert reply is not None
        return reply

    def _answer_then_kill(self, reply: Reply | None) -> Reply:
        threading.Timer(self.delay * 0.3, self.fire).start()
        assert reply is not None
        return reply


def everything_converged(env: Env, sim: PlantedSimulator, desired: dict[str, int]) -> bool:
    for name, count in desired.items():
        if not converged(env.kube.mdep(name), count):
            return False
        found = deployment(sim, f"dep-{name}")
        if found is None or found["number_of_allocations"] != count:
            return False
    return True


def judge(trial: Trial, sent: list[dict[str, Any]], desired: dict[str, int]) -> None:
    """Every write of the trial is right (else ``trial.wrong``); repeats of a right one are counted."""
    seen: Counter[str] = Counter()
    trial.writes = len(sent)
    for request in sent:
        action = request["path"].rsplit("/", 1)[1]
        target = request["query"].get("deployment_id") or request["path"].split("/")[3]
        name = target.removeprefix("dep-")
        value = (request["body"] or {}).get("number_of_allocations") or request["query"].get("number_of_allocations")
        key = f"{action} {target} {value}"
        if request["status"] != 200:
            trial.wrong.append(f"{key} answered {request['status']}")
        elif action == "_stop" or name not in desired:
            trial.wrong.append(f"{key}: nothing asked for it")
        elif value is not None and int(value) != desired[name]:
            trial.wrong.append(f"{key}: the spec says {desired[name]}")
        seen[key] += 1
    trial.repeats = sum(n - 1 for n in seen.values())


def regressions(watch: StatusWatch) -> list[str]:
    """Status that went backwards, or claimed Ready for a count its generation did not ask for."""
    found = []
    by_uid: dict[str, list[Any]] = {}
    for version in watch.history():
        by_uid.setdefault(version.uid, []).append(version)
    for versions in by_uid.values():
        versions = [v for v in versions if v.type != "DELETED"]
        spec_at = {v.generation: v.spec.get("numberOfAllocations") for v in versions}
        last_generation, last_sync = 0, ""
        for v in versions:
            observed = int(v.status.get("observedGeneration") or 0)
            sync = str(v.status.get("lastSyncTime") or "")
            if observed < last_generation:
                found.append(f"{v.name}: observedGeneration {last_generation} -> {observed}")
            if observed > v.generation:  # a status computed for another object (a deleted one of the same name)
                found.append(f"{v.name}: observedGeneration {observed} > generation {v.generation} ({v.uid})")
            if sync and sync < last_sync:
                found.append(f"{v.name}: lastSyncTime {last_sync} -> {sync}")
            if v.is_("Ready", "True") and observed in spec_at and v.status.get("allocations") != spec_at[observed]:
                history = [
                    (
                        round(x.seen % 1000, 2),
                        x.generation,
                        x.spec.get("numberOfAllocations"),
                        x.status.get("observedGeneration"),
                        x.status.get("allocations"),
                        (x.condition("Ready") or {}).get("reason"),
                    )
                    for x in versions
                ]
                found.append(
                    f"{v.name}: Ready with {v.status.get('allocations')} at generation {observed} "
                    f"(spec {spec_at[observed]}); versions (time, generation, spec, observed, allocations, "
                    f"Ready reason): {history}"
                )
            last_generation, last_sync = max(last_generation, observed), max(last_sync, sync)
    return found


@pytest.mark.timeout(900)
def test_sigkill_at_random_points_of_a_reconcile(env: Env) -> None:
    seed, rng = seeded("SIGKILL trials")
    sim = env.simulator(nodes=4, extra=("--processors", "8"))  # room for every count the trials ask for
    proxy = env.proxy(sim)
    env.secrets(sim)
    watch = env.watch()
    desired = dict.fromkeys(NAMES, 1)
    op = env.operator(resync=RESYNC)
    for name in NAMES:
        env.kube.apply(mdep(name, proxy.url, deploymentId=f"dep-{name}"))
    wait_for(lambda: everything_converged(env, sim, desired), what="the first convergence")

    trials = []
    for number in range(TRIALS):
        name = rng.choice(NAMES)
        point = rng.choice(POINTS)
        count = rng.choice([c for c in range(1, 5) if c != desired[name]])
        recreate = rng.random() < 0.25
        trial = Trial(number, f"{'recreate' if recreate else 'scale'} {name} -> {count}", point)
        killer = Killer(proxy, op, point, rng.random())
        start = time.time()
        desired[name] = count
        if recreate:  # deletionPolicy Retain: the deployment stays; the new resource must adopt it, not _start it
            env.kube.kubectl("delete", "mdep", name)
            env.kube.apply(mdep(name, proxy.url, deploymentId=f"dep-{name}", allocations=count))
        else:
            env.kube.kubectl("scale", "mdep", name, f"--replicas={count}")
        if point == "delay":
            threading.Timer(rng.random(), killer.fire).start()
        killer.done.wait(timeout=5)
        killer.fire()  # a point that never came (no write was needed): kill now
        op.process.popen.wait(timeout=10)
        trial.killed_at = time.time() - start
        proxy.clear_rules()
        op = env.operator(resync=RESYNC)
        restarted = time.time()
        wait_for(
            lambda: everything_converged(env, sim, desired),
            timeout=60,
            what=f"convergence after trial {number} ({trial.change}, {point}; seed {seed})",
        )
        trial.converged_after = time.time() - restarted
        judge(
            trial,
            [r for r in sim.requests("/deployment/_", method="POST") if r["wall_time"] >= start and from_operator(r)],
            desired,
        )
        trials.append(trial)

    backwards = regressions(watch)
    wrong = [f"trial {t.number} ({t.change}, {t.point}): {w}" for t in trials for w in t.wrong]
    repeats = sum(t.repeats for t in trials)
    judged = sum(t.writes for t in trials)
    points = dict(Counter(t.point for t in trials))
    slowest = max(t.converged_after for t in trials)
    print(
        f"seed {seed}: {len(trials)} trials, {judged} writes judged, {repeats} idempotent repeats; points "
        f"{points}; slowest convergence {slowest:.1f}s"
    )
    env.record(
        scenario="SIGKILL at random points of a reconcile",
        faults=len(trials),
        resources=len(NAMES) * len(trials),
        converged=len(NAMES) * len(trials),
        trials={
            "seed": seed,
            "run": len(trials),
            "converged": len(trials),
            "repeats": repeats,
            "writes": judged,
            "wrong": len(wrong),
            "regressions": len(backwards),
            "points": points,
        },
        gaps=[slowest],
    )
    assert judged >= TRIALS // 2, f"only {judged} writes in {TRIALS} trials: the trials changed nothing"
    assert not wrong, f"seed {seed}: wrong calls: {wrong}"
    assert not backwards, f"seed {seed}: status regressed: {backwards}"
