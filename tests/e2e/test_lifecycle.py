"""Create, scale, drift: the main job through kubectl."""

from __future__ import annotations

from tests.e2e.conftest import Kube, model_deployment, ready
from tests.support.operator import OperatorProcess
from tests.support.simulator import DEMO_MODEL, SimulatorProcess


def test_create_starts_the_deployment_and_reports_ready(
    kube: Kube, simulator: SimulatorProcess, es_url: str, es_secrets: dict[str, str], operator: OperatorProcess
) -> None:
    kube.apply(model_deployment("ner", es_url, allocations=2))
    # kstatus-style waiting, as Flux users and `kubectl wait` do.
    kube.kubectl("wait", "--for=condition=Ready", "--timeout=60s", "modeldeployment/ner")
    starts = simulator.requests("/deployment/_start", method="POST")
    assert len(starts) == 1
    assert starts[0]["query"].get("number_of_allocations") == "2"
    status = kube.mdep("ner")["status"]
    assert status["allocations"] == 2 and status["allocationState"] == "fully_allocated"
    assert status["taskParameters"]["deploymentId"] == DEMO_MODEL
    assert sum(r["currentAllocations"] for r in status["routingTable"]) == 2
    assert simulator.deployment(DEMO_MODEL)["allocation_status"]["allocation_count"] == 2
    assert ready(kube, "ner")
    # Converged and steady: no further writes to Elasticsearch on later polls.
    assert not simulator.requests("/deployment/_update")
