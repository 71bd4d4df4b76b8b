"""Two resources naming the same deployment on the same cluster: the older one manages it."""

from __future__ import annotations

from harness.polling import wait_for
from tests.e2e.conftest import Kube, model_deployment, ready, stalled_with
from tests.support.operator import OperatorProcess
from tests.support.simulator import DEMO_MODEL, SimulatorProcess


def test_the_older_resource_wins_and_the_newer_takes_over_after_deletion(
    kube: Kube, simulator: SimulatorProcess, es_url: str, es_secrets: dict[str, str], operator: OperatorProcess
) -> None:
    kube.apply(model_deployment("first", es_url, allocations=1))
    wait_for(lambda: ready(kube, "first"), what="first Ready")
    kube.apply(model_deployment("second", es_url, allocations=3))

    stalled = wait_for(lambda: stalled_with(kube, "second", "DeploymentConflict"), what="second in conflict")
    assert f"deployment [{DEMO_MODEL}]" in stalled["message"]
    assert f"ModelDeployment {kube.namespace}/first" in stalled["message"]
    # The newer resource never changes Elasticsearch: no fight over the count.
    assert not simulator.requests("/deployment/_update")
    assert ready(kube, "first")
    assert simulator.deployment(DEMO_MODEL)["number_of_allocations"] == 1

    kube.kubectl("delete", "modeldeployment", "first")  # Retain: the deployment keeps running
    wait_for(lambda: ready(kube, "second"), what="second takes over and becomes Ready")
    updates = simulator.requests("/deployment/_update")
    assert [u["body"] for u in updates] == [{"number_of_allocations": 3}]
    assert len(simulator.requests("/deployment/_start")) == 1
