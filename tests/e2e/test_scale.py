"""The /scale subresource: `kubectl scale`, the kubernetes client, and `kubectl get --subresource=scale`."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import kubernetes
import pytest

from harness.polling import wait_for
from harness.runner import ControlPlane
from harness.status import converged
from tests.e2e.conftest import Kube, model_deployment
from tests.e2e.test_lifecycle import es_deployment, updates, wait_polls
from tests.support.operator import OperatorProcess
from tests.support.simulator import SimulatorProcess

GROUP, VERSION, PLURAL = "esml.io", "v1alpha1", "modeldeployments"


@pytest.fixture
def custom_api(control_plane: ControlPlane) -> Iterator[Any]:
    client = control_plane.api_client()
    try:
        yield kubernetes.client.CustomObjectsApi(client)
    finally:
        client.close()


def scale(kube: Kube, name: str) -> dict[str, Any]:
    return dict(json.loads(kube.kubectl("get", "mdep", name, "--subresource=scale", "-o", "json").stdout))


def test_kubectl_scale_updates_the_deployment(
    kube: Kube, simulator: SimulatorProcess, es_url: str, es_secrets: dict[str, str], operator: OperatorProcess
) -> None:
    kube.apply(model_deployment("ner", es_url, allocations=1))
    wait_for(lambda: converged(kube.mdep("ner"), 1), what="1 allocation, Ready")
    kube.kubectl("scale", "mdep/ner", "--replicas=4")
    assert kube.mdep("ner")["spec"]["numberOfAllocations"] == 4
    status = wait_for(lambda: converged(kube.mdep("ner"), 4), what="4 allocations, Ready")
    assert [r["body"] for r in updates(simulator)] == [{"number_of_allocations": 4}]
    assert sum(r["currentAllocations"] for r in status["routingTable"]) == 4
    assert es_deployment(simulator)["allocation_status"]["allocation_count"] == 4

    got = scale(kube, "ner")
    assert got["kind"] == "Scale" and got["apiVersion"] == "autoscaling/v1"
    assert got["spec"] == {"replicas": 4}
    assert got["status"] == {"replicas": 4, "selector": "esml.io/model-deployment=ner"}
    # A `kubectl scale` with a precondition on the current size, as scripts use it.
    kube.kubectl("scale", "mdep/ner", "--current-replicas=4", "--replicas=2")
    wait_for(lambda: converged(kube.mdep("ner"), 2), what="2 allocations, Ready")
    assert [r["body"] for r in updates(simulator)] == [{"number_of_allocations": 4}, {"number_of_allocations": 2}]
    wait_polls(simulator, 3)
    assert len(updates(simulator)) == 2


def test_scale_subresource_through_the_kubernetes_client(
    kube: Kube,
    simulator: SimulatorProcess,
    es_url: str,
    es_secrets: dict[str, str],
    operator: OperatorProcess,
    custom_api: Any,
) -> None:
    kube.apply(model_deployment("ner", es_url, allocations=2))
    wait_for(lambda: converged(kube.mdep("ner"), 2), what="2 allocations, Ready")
    before = custom_api.get_namespaced_custom_object_scale(GROUP, VERSION, kube.namespace, PLURAL, "ner")
    assert before["spec"]["replicas"] == 2 and before["status"]["replicas"] == 2

    custom_api.patch_namespaced_custom_object_scale(
        GROUP, VERSION, kube.namespace, PLURAL, "ner", {"spec": {"replicas": 4}}
    )
    wait_for(lambda: converged(kube.mdep("ner"), 4), what="4 allocations, Ready")
    assert [r["body"] for r in updates(simulator)] == [{"number_of_allocations": 4}]
    after = custom_api.get_namespaced_custom_object_scale(GROUP, VERSION, kube.namespace, PLURAL, "ner")
    assert after["spec"]["replicas"] == 4
    assert after["status"] == {"replicas": 4, "selector": "esml.io/model-deployment=ner"}
    assert scale(kube, "ner")["status"] == after["status"]
