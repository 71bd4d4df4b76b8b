"""startPolicy, deletionPolicy and paused, end to end."""

from __future__ import annotations

import json
from typing import Any

from harness.polling import wait_for
from harness.status import converged
from tests.e2e.conftest import Kube, model_deployment, ready
from tests.e2e.test_lifecycle import updates, wait_polls
from tests.support.operator import OperatorProcess
from tests.support.simulator import DEMO_MODEL, SimulatorProcess

FINALIZER = "esml.io/stop-deployment"


def starts(simulator: SimulatorProcess) -> list[dict[str, Any]]:
    return simulator.requests("/deployment/_start", method="POST")


def stops(simulator: SimulatorProcess) -> list[dict[str, Any]]:
    return simulator.requests("/deployment/_stop", method="POST")


def condition(kube: Kube, name: str, type_: str) -> dict[str, Any]:
    cond = kube.condition(name, type_)
    assert cond is not None, f"no {type_} condition yet"
    return cond


def start_out_of_band(simulator: SimulatorProcess, allocations: int) -> None:
    """What a Kibana user or a script would do: the Elasticsearch start API, not the operator."""
    response = simulator.es(
        "POST",
        f"/_ml/trained_models/{DEMO_MODEL}/deployment/_start",
        number_of_allocations=allocations,
        wait_for="started",
    )
    response.raise_for_status()


def test_start_policy_never_only_adopts(
    kube: Kube, simulator: SimulatorProcess, es_url: str, es_secrets: dict[str, str], operator: OperatorProcess
) -> None:
    kube.apply(model_deployment("ner", es_url, allocations=1, startPolicy="Never"))
    stalled = wait_for(
        lambda: condition(kube, "ner", "Stalled")["status"] == "True" and condition(kube, "ner", "Stalled"),
        what="Stalled",
    )
    assert stalled["reason"] == "DeploymentNotFound"
    assert condition(kube, "ner", "Ready")["status"] == "False"
    assert condition(kube, "ner", "Ready")["reason"] == "DeploymentNotFound"
    assert "allocations" not in kube.mdep("ner")["status"]  # ALLOCATED is blank without a deployment
    wait_polls(simulator, 3)
    assert not starts(simulator)
    warnings = [e for e in kube.events("ner") if e["type"] == "Warning"]
    assert [e["reason"] for e in warnings] == ["DeploymentNotFound"]  # once, not once per poll

    start_out_of_band(simulator, 1)
    status = wait_for(lambda: converged(kube.mdep("ner"), 1), what="the deployment adopted, Ready")
    assert status["taskParameters"]["deploymentId"] == DEMO_MODEL
    assert condition(kube, "ner", "Stalled")["status"] == "False"
    assert len(starts(simulator)) == 1  # the out-of-band one only
    assert not updates(simulator)


def test_deletion_policy_stop_stops_the_deployment(
    kube: Kube, simulator: SimulatorProcess, es_url: str, es_secrets: dict[str, str], operator: OperatorProcess
) -> None:
    kube.apply(model_deployment("ner", es_url, allocations=1, deletionPolicy="Stop"))
    wait_for(lambda: converged(kube.mdep("ner"), 1), what="Ready")
    assert kube.mdep("ner")["metadata"]["finalizers"] == [FINALIZER]
    kube.kubectl("delete", "mdep", "ner", "--timeout=40s")
    assert kube.get("modeldeployment", "ner") is None
    (stop,) = stops(simulator)
    assert stop["path"] == f"/_ml/trained_models/{DEMO_MODEL}/deployment/_stop"
    wait_for(lambda: simulator.deployment(DEMO_MODEL) is None, what="the deployment gone from Elasticsearch")


def test_deletion_policy_retain_leaves_the_deployment_running(
    kube: Kube, simulator: SimulatorProcess, es_url: str, es_secrets: dict[str, str], operator: OperatorProcess
) -> None:
    kube.apply(model_deployment("ner", es_url, allocations=1))  # deletionPolicy defaults to Retain
    wait_for(lambda: converged(kube.mdep("ner"), 1), what="Ready")
    obj = kube.mdep("ner")
    assert obj["spec"]["deletionPolicy"] == "Retain"
    assert not obj["metadata"].get("finalizers")
    kube.kubectl("delete", "mdep", "ner", "--timeout=20s")
    assert kube.get("modeldeployment", "ner") is None
    # Without a finalizer the operator has no say in the deletion: nothing can stop the deployment later.
    assert not stops(simulator)
    stats = simulator.deployment(DEMO_MODEL)
    assert stats is not None and stats["state"] == "started"


def test_switching_deletion_policy_adds_and_removes_the_finalizer(
    kube: Kube, simulator: SimulatorProcess, es_url: str, es_secrets: dict[str, str], operator: OperatorProcess
) -> None:
    kube.apply(model_deployment("ner", es_url, allocations=1))
    wait_for(lambda: converged(kube.mdep("ner"), 1), what="Ready")
    assert not kube.mdep("ner")["metadata"].get("finalizers")
    kube.kubectl("patch", "mdep", "ner", "--type=merge", "-p", '{"spec":{"deletionPolicy":"Stop"}}')
    wait_for(lambda: kube.mdep("ner")["metadata"].get("finalizers") == [FINALIZER], what="the finalizer added")
    kube.kubectl("patch", "mdep", "ner", "--type=merge", "-p", '{"spec":{"deletionPolicy":"Retain"}}')
    wait_for(lambda: not kube.mdep("ner")["metadata"].get("finalizers"), what="the finalizer removed")
    kube.kubectl("delete", "mdep", "ner", "--timeout=20s")
    assert not stops(simulator)
    assert simulator.deployment(DEMO_MODEL) is not None


def test_paused_observes_but_changes_nothing(
    kube: Kube, simulator: SimulatorProcess, es_url: str, es_secrets: dict[str, str], operator: OperatorProcess
) -> None:
    kube.apply(model_deployment("ner", es_url, allocations=1, paused=True))

    def paused_status() -> dict[str, Any] | None:
        status = kube.mdep("ner").get("status", {})
        reconciling = condition(kube, "ner", "Reconciling")
        ok = reconciling["status"] == "False" and reconciling["reason"] == "Paused" and "lastSyncTime" in status
        return status if ok else None

    status = wait_for(paused_status, what="Reconciling False/Paused with an observation")
    assert "allocations" not in status and status["elasticsearchVersion"]
    assert condition(kube, "ner", "ElasticsearchReachable")["status"] == "True"
    wait_polls(simulator, 2)
    assert not starts(simulator)

    # Divergence while paused: observed and reported, not corrected.
    start_out_of_band(simulator, 2)
    status = wait_for(
        lambda: (s := paused_status()) is not None and s.get("allocations") == 2 and s, what="2 allocations observed"
    )
    ready_condition = condition(kube, "ner", "Ready")
    assert ready_condition["status"] == "False" and ready_condition["reason"] == "AllocationsDiffer"
    assert "paused" in ready_condition["message"]
    wait_polls(simulator, 3)
    assert not updates(simulator)
    assert len(starts(simulator)) == 1  # the out-of-band one
    assert kube.mdep("ner")["status"]["allocations"] == 2

    kube.kubectl("patch", "mdep", "ner", "--type=merge", "-p", json.dumps({"spec": {"paused": False}}))
    wait_for(lambda: converged(kube.mdep("ner"), 1), what="unpaused: back to 1 allocation, Ready")
    assert [r["body"] for r in updates(simulator)] == [{"number_of_allocations": 1}]
    assert condition(kube, "ner", "Reconciling")["reason"] == "Reconciled"
    reasons = [e["reason"] for e in kube.events("ner")]
    assert reasons.count("Paused") == 1 and reasons.count("Resumed") == 1, reasons
    assert ready(kube, "ner")
