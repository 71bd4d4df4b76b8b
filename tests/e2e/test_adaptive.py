"""Adaptive allocations: switching on and off, and `/scale` while Elasticsearch owns the count."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from harness.polling import wait_for
from harness.status import converged
from tests.e2e.conftest import Kube, model_deployment, ready
from tests.e2e.test_lifecycle import es_deployment, updates, wait_polls
from tests.support.operator import OperatorProcess
from tests.support.simulator import SimulatorProcess

ADAPTIVE = {"enabled": True, "minNumberOfAllocations": 1, "maxNumberOfAllocations": 4}


@pytest.fixture
def simulator(simulator_factory: Callable[..., SimulatorProcess]) -> SimulatorProcess:
    """The scaler runs every second, so Elasticsearch visibly changes the count while adaptive is on."""
    return simulator_factory(extra=("--adaptive-interval", "1"))


def patch(kube: Kube, name: str, spec: dict[str, Any]) -> None:
    kube.kubectl("patch", "mdep", name, "--type=merge", "-p", json.dumps({"spec": spec}))


def adaptive_ready(kube: Kube, name: str, *, allocations: int) -> dict[str, Any] | None:
    obj = kube.mdep(name)
    status = obj.get("status", {})
    if status.get("observedGeneration") != obj["metadata"]["generation"] or not ready(kube, name):
        return None
    if (status.get("adaptiveAllocations") or {}).get("enabled") is not True:
        return None
    return status if status.get("allocations") == allocations else None


def test_switching_adaptive_on_and_off(
    kube: Kube, simulator: SimulatorProcess, es_url: str, es_secrets: dict[str, str], operator: OperatorProcess
) -> None:
    kube.apply(model_deployment("ner", es_url, allocations=2))
    wait_for(lambda: converged(kube.mdep("ner"), 2), what="2 allocations, Ready")

    patch(kube, "ner", {"adaptiveAllocations": ADAPTIVE})
    # Without load the scaler brings the count down to the minimum: Elasticsearch owns the count now.
    status = wait_for(lambda: adaptive_ready(kube, "ner", allocations=1), what="adaptive on, scaled to 1, Ready")
    assert [r["body"] for r in updates(simulator)] == [
        {"adaptive_allocations": {"enabled": True, "min_number_of_allocations": 1, "max_number_of_allocations": 4}}
    ]
    assert status["adaptiveAllocations"] == ADAPTIVE
    assert es_deployment(simulator)["adaptive_allocations"]["enabled"] is True

    # /scale while adaptive is on: the spec changes, Elasticsearch is not told.
    kube.kubectl("scale", "mdep/ner", "--replicas=3")
    status = wait_for(lambda: adaptive_ready(kube, "ner", allocations=1), what="the scale observed")
    wait_polls(simulator, 3)
    assert len(updates(simulator)) == 1, updates(simulator)
    status = kube.mdep("ner")["status"]
    assert status["allocations"] == 1  # status keeps reporting the real count, so /scale reads stay truthful
    ready_condition = next(c for c in status["conditions"] if c["type"] == "Ready")
    assert ready_condition["status"] == "True"
    assert "numberOfAllocations (3) is ignored while adaptive allocations are enabled" in ready_condition["message"]
    reconciling = next(c for c in status["conditions"] if c["type"] == "Reconciling")
    assert reconciling["status"] == "False" and reconciling["reason"] == "Reconciled"
    scale = json.loads(kube.kubectl("get", "mdep", "ner", "--subresource=scale", "-o", "json").stdout)
    assert scale["spec"]["replicas"] == 3 and scale["status"]["replicas"] == 1

    # Back to a fixed count: one _update with both fields, as Kibana does.
    patch(kube, "ner", {"adaptiveAllocations": {"enabled": False}})
    wait_for(lambda: converged(kube.mdep("ner"), 3), what="3 fixed allocations, Ready")
    sent = updates(simulator)
    assert len(sent) == 2, sent
    assert sent[1]["body"] == {"number_of_allocations": 3, "adaptive_allocations": {"enabled": False}}
    stats = es_deployment(simulator)
    assert stats["number_of_allocations"] == 3
    assert not (stats.get("adaptive_allocations") or {}).get("enabled")
    wait_polls(simulator, 3)
    assert len(updates(simulator)) == 2
    events = [e for e in kube.events("ner") if e["reason"] == "DeploymentUpdated"]
    assert len(events) == 2, events
