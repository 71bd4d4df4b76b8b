"""Runtime v2 through real processes: one actor among replicas, isolation, instant reaction, cheap restarts."""

from __future__ import annotations

import json
import signal
import socket
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from harness.polling import wait_for
from harness.runner import ControlPlane
from harness.status import converged
from tests.e2e.conftest import Kube, model_deployment, ready
from tests.e2e.test_lifecycle import es_deployment, updates, wait_polls
from tests.support.operator import OperatorProcess
from tests.support.polls import STATS_POLL  # the operator's cluster-wide poll
from tests.support.simulator import SimulatorProcess

FAST_LEASE = ("--lease-duration", "3", "--renew-deadline", "2", "--retry-period", "0.5")


@pytest.fixture
def simulator(simulator_factory: Callable[..., SimulatorProcess]) -> SimulatorProcess:
    """Room for 32 single-thread allocations (4 ML nodes of 8 processors): capacity is not what is tested here."""
    return simulator_factory(nodes=4, extra=("--processors", "8"))


@pytest.fixture
def operators(control_plane: ControlPlane, namespace: str, tmp_path: Path) -> Iterator[Callable[..., OperatorProcess]]:
    started: list[OperatorProcess] = []

    def start(*extra: str, lease: str | None = None, resync_interval: float = 2.0) -> OperatorProcess:
        op = OperatorProcess(
            control_plane.kubeconfig,
            namespaces=(namespace,),
            resync_interval=resync_interval,
            extra=extra,
            workdir=tmp_path / f"operator{len(started)}",
            lease=lease,
        )
        started.append(op)
        return op

    yield start
    for op in started:
        if op.process.alive():
            op.stop()


def holder(kube: Kube, lease: str) -> str:
    out = kube.kubectl("get", "lease", lease, "-o", "json", check=False)
    return str(json.loads(out.stdout)["spec"].get("holderIdentity") or "") if out.returncode == 0 else ""


def starts(simulator: SimulatorProcess) -> list[dict[str, Any]]:
    return simulator.requests("/deployment/_start", method="POST")


def test_two_replicas_one_actor_takeover_after_sigkill_and_handover_on_sigterm(
    kube: Kube,
    simulator: SimulatorProcess,
    es_url: str,
    es_secrets: dict[str, str],
    operators: Callable[..., OperatorProcess],
) -> None:
    first = operators(*FAST_LEASE, lease="esml-ha")
    second = operators(*FAST_LEASE, lease="esml-ha")
    wait_for(lambda: holder(kube, "esml-ha") in (first.identity, second.identity), what="a leader")
    for name in ("a", "b", "c"):
        kube.apply(model_deployment(name, es_url, allocations=1, deploymentId=f"dep-{name}"))
    for name in ("a", "b", "c"):
        wait_for(lambda n=name: converged(kube.mdep(n), 1), what=f"{name} Ready")  # type: ignore[misc]
    for n, name in enumerate(("a", "b", "c")):
        kube.kubectl("scale", f"mdep/{name}", f"--replicas={n + 2}")
    for n, name in enumerate(("a", "b", "c")):
        wait_for(lambda m=name, c=n + 2: converged(kube.mdep(m), c), what=f"{name} scaled")  # type: ignore[misc]
    assert len(starts(simulator)) == 3  # one _start per resource, never one per replica
    assert len(updates(simulator)) == 3

    leader, follower = (first, second) if holder(kube, "esml-ha") == first.identity else (second, first)
    leader.process.popen.send_signal(signal.SIGKILL)
    leader.process.popen.wait(timeout=10)
    wait_for(lambda: holder(kube, "esml-ha") == follower.identity, timeout=3 + 0.5 + 10, what="takeover")
    kube.kubectl("scale", "mdep/a", "--replicas=1")
    wait_for(lambda: es_deployment(simulator, "dep-a")["number_of_allocations"] == 1, what="change via new leader")

    third = operators(*FAST_LEASE, lease="esml-ha")
    follower.stop()  # SIGTERM: the Lease is released, the third replica takes over at its next retry
    wait_for(lambda: holder(kube, "esml-ha") == third.identity, timeout=2.5, interval=0.1, what="handover")
    kube.kubectl("scale", "mdep/b", "--replicas=1")
    wait_for(lambda: es_deployment(simulator, "dep-b")["number_of_allocations"] == 1, what="change via third")
    assert len(starts(simulator)) == 3
    assert len(updates(simulator)) == 5  # each change exactly once, across three leaders


class Blackhole:
    """Accepts TCP connections and never answers (a hung Elasticsearch)."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(128)
        self.port = self.sock.getsockname()[1]
        self.accepted: list[socket.socket] = []
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.accepted.append(conn)

    def close(self) -> None:
        self.sock.close()
        for conn in self.accepted:
            conn.close()


def refused_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_a_hung_and_a_refusing_cluster_do_not_delay_a_healthy_one(
    kube: Kube,
    simulator: SimulatorProcess,
    es_url: str,
    es_secrets: dict[str, str],
    operators: Callable[..., OperatorProcess],
) -> None:
    hole = Blackhole()
    try:
        operators("--request-timeout", "5", "--connect-timeout", "2", "--no-leader-election")
        for n in range(15):
            kube.apply(model_deployment(f"hung-{n}", f"http://127.0.0.1:{hole.port}", credentials=None, ca=None))
            kube.apply(model_deployment(f"gone-{n}", f"http://127.0.0.1:{refused_port()}", credentials=None, ca=None))
        kube.apply(model_deployment("healthy", es_url, allocations=2))
        # Ready well within one request timeout of the hung cluster's first connect attempt.
        wait_for(lambda: converged(kube.mdep("healthy"), 2), timeout=15, what="the healthy resource Ready")
        kube.kubectl("scale", "mdep/healthy", "--replicas=3")
        wait_for(lambda: converged(kube.mdep("healthy"), 3), timeout=10, what="the healthy resource scaled")

        def unreachable(name: str) -> bool:
            cond = kube.condition(name, "ElasticsearchReachable")
            return bool(cond and cond["status"] == "False") and not ready(kube, name)

        wait_for(lambda: all(unreachable(f"hung-{n}") for n in range(15)), timeout=20, what="hung reported")
        wait_for(lambda: all(unreachable(f"gone-{n}") for n in range(15)), timeout=10, what="refused reported")
        # Single-flight connects: 15 resources on the hung endpoint opened about one connection per back-off step.
        assert len(hole.accepted) <= 6, len(hole.accepted)
    finally:
        hole.close()


def test_back_to_back_changes_each_reach_elasticsearch_and_bursts_coalesce(
    kube: Kube,
    simulator: SimulatorProcess,
    es_url: str,
    es_secrets: dict[str, str],
    operators: Callable[..., OperatorProcess],
) -> None:
    operators("--no-leader-election", resync_interval=30.0)
    kube.apply(model_deployment("ner", es_url, allocations=1))
    # Changes right after the create: the deployment is started exactly once (never twice on a stale poll).
    kube.kubectl("scale", "mdep/ner", "--replicas=2")
    wait_for(lambda: converged(kube.mdep("ner"), 2), what="Ready with 2")
    assert len(starts(simulator)) == 1
    before = len(updates(simulator))
    # The operator's polls (cluster-wide); the test's own reads of one deployment's _stats do not count.
    polls_before = len(simulator.requests(STATS_POLL, method="GET"))
    kube.kubectl("scale", "mdep/ner", "--replicas=3")
    wait_for(lambda: es_deployment(simulator)["number_of_allocations"] == 3, timeout=5, what="first change")
    kube.kubectl("scale", "mdep/ner", "--replicas=4")
    wait_for(lambda: es_deployment(simulator)["number_of_allocations"] == 4, timeout=5, what="second change")
    assert len(updates(simulator)) == before + 2
    # The second change did not wait for a poll: the _update answer was the observation it acted on.
    assert len(simulator.requests(STATS_POLL, method="GET")) - polls_before <= 2

    before = len(updates(simulator))
    for n in range(40):  # a burst: 40 changes as fast as kubectl goes
        kube.kubectl(
            "patch", "mdep", "ner", "--type=merge", "-p", json.dumps({"spec": {"numberOfAllocations": 1 + n % 5}})
        )
    final = 1 + 39 % 5
    wait_for(lambda: converged(kube.mdep("ner"), final), timeout=20, what="the burst's final value")
    assert es_deployment(simulator)["number_of_allocations"] == final
    assert len(updates(simulator)) - before <= 40  # never more calls than changes ...
    assert len(starts(simulator)) == 1


def test_a_restart_writes_nothing_that_did_not_change(
    kube: Kube,
    simulator: SimulatorProcess,
    es_url: str,
    es_secrets: dict[str, str],
    operators: Callable[..., OperatorProcess],
) -> None:
    op = operators("--no-leader-election", resync_interval=1.0)
    names = [f"r{n}" for n in range(20)]
    for name in names:
        kube.apply(model_deployment(name, es_url, allocations=1, deploymentId=f"dep-{name}"))
    for name in names:
        wait_for(lambda n=name: converged(kube.mdep(n), 1), what=f"{name} Ready")  # type: ignore[misc]
    wait_polls(simulator, 2)
    versions = {item["metadata"]["name"]: item["metadata"]["resourceVersion"] for item in _items(kube)}
    op.process.popen.send_signal(signal.SIGKILL)
    op.process.popen.wait(timeout=10)
    writes_before = len(simulator.requests("/deployment/", method="POST"))
    kube.kubectl("scale", "mdep/r0", "--replicas=2")  # a change made while the operator is down
    versions["r0"] = None
    operators("--no-leader-election", resync_interval=1.0)
    wait_for(lambda: es_deployment(simulator, "dep-r0")["number_of_allocations"] == 2, timeout=10, what="the change")
    wait_polls(simulator, 3)  # several full passes over every resource
    changed = [
        item["metadata"]["name"]
        for item in _items(kube)
        if versions[item["metadata"]["name"]] is not None
        and item["metadata"]["resourceVersion"] != versions[item["metadata"]["name"]]
    ]
    assert changed == []
    assert len(simulator.requests("/deployment/", method="POST")) == writes_before + 1  # only the r0 change


def _items(kube: Kube) -> list[dict[str, Any]]:
    return list(json.loads(kube.kubectl("get", "mdep", "-o", "json").stdout)["items"])
