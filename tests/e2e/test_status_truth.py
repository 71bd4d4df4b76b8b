"""Status never claims more than Elasticsearch last said; one cluster reached by two URLs is one cluster."""

from __future__ import annotations

import signal
from datetime import datetime
from typing import Any

from harness.polling import wait_for
from harness.status import converged
from tests.e2e.conftest import Kube, model_deployment, ready, stalled_with
from tests.e2e.test_lifecycle import wait_polls
from tests.support.operator import OperatorProcess
from tests.support.simulator import DEMO_MODEL, SimulatorProcess


def _event_time(event: dict[str, Any]) -> datetime:
    stamp = event.get("lastTimestamp") or event.get("eventTime") or event["metadata"]["creationTimestamp"]
    return datetime.fromisoformat(str(stamp).replace("Z", "+00:00"))


def test_a_resource_recreated_right_after_its_deployment_was_stopped_starts_it_again(
    kube: Kube, simulator: SimulatorProcess, es_url: str, es_secrets: dict[str, str], operator: OperatorProcess
) -> None:
    manifest = model_deployment("ner", es_url, allocations=1, deletionPolicy="Stop")
    kube.apply(manifest)
    wait_for(lambda: converged(kube.mdep("ner"), 1), what="Ready")
    kube.kubectl("delete", "mdep", "ner", "--wait=true", "--timeout=30s")
    assert simulator.deployment(DEMO_MODEL) is None  # the finalizer stopped it before letting go
    kube.apply(manifest)  # at once: the operator's last poll still lists the deployment
    status = wait_for(lambda: converged(kube.mdep("ner"), 1), what="Ready again")
    assert simulator.deployment(DEMO_MODEL) is not None  # Ready rests on a deployment that exists
    assert len(simulator.requests("/deployment/_start", method="POST")) == 2
    assert status["assignmentState"] == "started"
    events = kube.events("ner")
    uid = kube.mdep("ner")["metadata"]["uid"]
    mine = [e for e in events if e["involvedObject"].get("uid") == uid]
    started = [e for e in mine if e["reason"] == "DeploymentStarted"]
    readies = [e for e in mine if e["reason"] == "Ready"]
    assert started and readies, [e["reason"] for e in mine]
    assert _event_time(started[0]) <= _event_time(readies[0])  # never Ready before the start


def test_a_frozen_elasticsearch_turns_ready_false_then_recovers(
    kube: Kube,
    simulator: SimulatorProcess,
    es_url: str,
    es_secrets: dict[str, str],
    operator_factory: Any,
) -> None:
    operator_factory("--request-timeout", "3", resync_interval=1.0)
    kube.apply(model_deployment("ner", es_url, allocations=1))
    wait_for(lambda: converged(kube.mdep("ner"), 1), what="Ready")
    simulator.process.popen.send_signal(signal.SIGSTOP)
    try:

        def reported() -> dict[str, Any] | None:
            cond = kube.condition("ner", "ElasticsearchReachable")
            return cond if cond and cond["status"] == "False" and not ready(kube, "ner") else None

        cond = wait_for(reported, timeout=1.0 + 3 * 2 + 5, what="Ready False while frozen")
        assert cond["reason"] == "TransportTimeoutError", cond
    finally:
        simulator.process.popen.send_signal(signal.SIGCONT)
    wait_for(lambda: converged(kube.mdep("ner"), 1), what="Ready after thawing")


def test_two_urls_of_one_cluster_are_one_cluster(
    kube: Kube, simulator: SimulatorProcess, es_url: str, es_secrets: dict[str, str], operator: OperatorProcess
) -> None:
    by_name = es_url  # https://localhost:P
    by_address = es_url.replace("localhost", "127.0.0.1")
    kube.apply(model_deployment("first", by_name, allocations=1))
    wait_for(lambda: ready(kube, "first"), what="first Ready")
    kube.apply(model_deployment("second", by_address, allocations=2))
    stalled = wait_for(lambda: stalled_with(kube, "second", "DeploymentConflict"), what="second in conflict")
    assert f"ModelDeployment {kube.namespace}/first" in stalled["message"]
    wait_polls(simulator, 3)
    assert not simulator.requests("/deployment/_update")  # no 1 -> 2 -> 1 fight
    assert simulator.deployment(DEMO_MODEL)["number_of_allocations"] == 1
