"""Elasticsearch versions: the same lifecycle on 8.6, 8.12, 8.16 and 9.x; features a version lacks are refused."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from harness.polling import wait_for
from harness.status import converged
from tests.e2e.conftest import Kube, model_deployment
from tests.e2e.test_lifecycle import updates, wait_polls
from tests.support.operator import OperatorProcess
from tests.support.simulator import DEMO_MODEL, SimulatorProcess

VERSIONS = ["8.6.0", "8.12.0", "8.16.0", None]  # None: the simulator's default, the newest 9.x


@pytest.fixture
def simulator(request: pytest.FixtureRequest, simulator_factory: Callable[..., SimulatorProcess]) -> SimulatorProcess:
    """The simulator emulating ``request.param`` (indirect parametrization); the default version otherwise."""
    return simulator_factory(es_version=getattr(request, "param", None))


def es_requests(simulator: SimulatorProcess) -> list[dict[str, Any]]:
    """Every deployment write the operator could have sent."""
    return simulator.requests("/deployment/", method="POST")


def stalled(kube: Kube, name: str) -> dict[str, Any] | None:
    cond = kube.condition(name, "Stalled")
    return cond if cond and cond["status"] == "True" else None


@pytest.mark.parametrize("simulator", VERSIONS, ids=[v or "9.x" for v in VERSIONS], indirect=True)
def test_create_and_update_on_every_supported_version(
    kube: Kube, simulator: SimulatorProcess, es_url: str, es_secrets: dict[str, str], operator: OperatorProcess
) -> None:
    version = simulator.es("GET", "/").json()["version"]["number"]
    kube.apply(model_deployment("ner", es_url, allocations=1))
    status = wait_for(lambda: converged(kube.mdep("ner"), 1), what=f"Ready on {version}")
    assert status["elasticsearchVersion"] == version
    assert len(simulator.requests("/deployment/_start", method="POST")) == 1

    kube.kubectl("patch", "mdep", "ner", "--type=merge", "-p", json.dumps({"spec": {"numberOfAllocations": 2}}))
    status = wait_for(lambda: converged(kube.mdep("ner"), 2), what=f"2 allocations on {version}")
    (update,) = updates(simulator)
    assert update["body"] == {"number_of_allocations": 2} and not update["query"]
    assert sum(r["currentAllocations"] for r in status["routingTable"]) == 2
    # (SimulatorProcess.deployment() looks for deployment_id, which 8.6 does not report.)
    (entry,) = simulator.es("GET", f"/_ml/trained_models/{DEMO_MODEL}/_stats").json()["trained_model_stats"]
    assert entry["deployment_stats"]["number_of_allocations"] == 2
    wait_polls(simulator, 2)
    assert len(es_requests(simulator)) == 2


@pytest.mark.parametrize("simulator", ["8.12.0"], indirect=True)
def test_adaptive_allocations_need_8_16(
    kube: Kube, simulator: SimulatorProcess, es_url: str, es_secrets: dict[str, str], operator: OperatorProcess
) -> None:
    adaptive = {"enabled": True, "minNumberOfAllocations": 1, "maxNumberOfAllocations": 2}
    kube.apply(model_deployment("ner", es_url, adaptiveAllocations=adaptive))
    cond = wait_for(lambda: stalled(kube, "ner"), what="Stalled")
    assert cond["reason"] == "UnsupportedElasticsearchVersion"
    assert "8.16" in cond["message"] and "8.12.0" in cond["message"]
    ready = kube.condition("ner", "Ready")
    assert ready and ready["status"] == "False" and ready["reason"] == "UnsupportedElasticsearchVersion"
    wait_polls(simulator, 3)
    assert not es_requests(simulator)
    (entry,) = simulator.es("GET", f"/_ml/trained_models/{DEMO_MODEL}/_stats").json()["trained_model_stats"]
    assert "deployment_stats" not in entry
    warnings = [e for e in kube.events("ner") if e["type"] == "Warning"]
    assert [e["reason"] for e in warnings] == ["UnsupportedElasticsearchVersion"]


@pytest.mark.parametrize("simulator", ["8.6.0"], indirect=True)
def test_deployment_id_needs_8_8(
    kube: Kube, simulator: SimulatorProcess, es_url: str, es_secrets: dict[str, str], operator: OperatorProcess
) -> None:
    kube.apply(model_deployment("ner", es_url, deploymentId="ner-search"))
    cond = wait_for(lambda: stalled(kube, "ner"), what="Stalled")
    assert cond["reason"] == "UnsupportedElasticsearchVersion"
    assert "8.8" in cond["message"] and "8.6.0" in cond["message"]
    wait_polls(simulator, 3)
    assert not es_requests(simulator)
    assert kube.mdep("ner")["status"]["elasticsearchVersion"] == "8.6.0"
