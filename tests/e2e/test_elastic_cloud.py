"""spec.elasticsearch.cloudId end to end: a Cloud ID that decodes to the local simulator, over TLS, with an API key.

A Cloud ID names ``https://<elasticsearch id>.<host>:<port>``. With the
Elasticsearch id ``127`` and the host ``0.0.1`` that is
``https://127.0.0.1:<port>``: the simulator, whose certificate is issued for
127.0.0.1. So the operator's own decoding (no override, no test hook) takes
it to the simulator, through certificate verification against caSecretRef.
"""

from __future__ import annotations

import base64

from harness.polling import wait_for
from tests.e2e.conftest import Kube, ready, stalled_with
from tests.support.operator import OperatorProcess
from tests.support.simulator import DEMO_MODEL, SimulatorProcess


def local_cloud_id(port: int, name: str = "local-simulator") -> str:
    decoded = f"0.0.1:{port}$127$kibana0123456789"
    return f"{name}:{base64.b64encode(decoded.encode()).decode()}"


def cloud_manifest(name: str, cloud_id: str, *, ca: str | None = "es-ca", **spec: object) -> dict[str, object]:
    es: dict[str, object] = {"cloudId": cloud_id, "credentialsSecretRef": {"name": "es-credentials"}}
    if ca:
        es["caSecretRef"] = {"name": ca}
    body = {"modelId": DEMO_MODEL, "numberOfAllocations": 2, "elasticsearch": es, **spec}
    return {"apiVersion": "esml.io/v1alpha1", "kind": "ModelDeployment", "metadata": {"name": name}, "spec": body}


def test_cloud_id_reaches_elasticsearch_over_tls_with_an_api_key(
    kube: Kube, simulator: SimulatorProcess, es_secrets: dict[str, str], operator: OperatorProcess
) -> None:
    kube.apply(cloud_manifest("cloud", local_cloud_id(simulator.port)))
    wait_for(lambda: ready(kube, "cloud"), what="Ready through a Cloud ID")
    status = kube.mdep("cloud")["status"]
    assert status["allocations"] == 2
    assert status["selector"] == "esml.io/model-deployment=cloud"
    deployment = simulator.deployment(DEMO_MODEL)
    assert deployment is not None and deployment["allocation_status"]["allocation_count"] == 2
    # The simulator runs with security on: the start went through with the API key from credentialsSecretRef.
    (start,) = simulator.requests("/deployment/_start", method="POST")
    assert start["status"] == 200
    assert start["headers"]["Authorization"] == "<redacted>"  # sent (the log redacts it)


def test_cloud_id_keeps_tls_verification_and_reports_a_malformed_id(
    kube: Kube, simulator: SimulatorProcess, es_secrets: dict[str, str], operator: OperatorProcess
) -> None:
    # Without caSecretRef the system trust store is used, which does not know the simulator's CA.
    kube.apply(cloud_manifest("untrusted", local_cloud_id(simulator.port), ca=None))
    # base64 text that decodes to no Elasticsearch id: accepted by the API server, refused by the operator.
    malformed = "broken:" + base64.b64encode(b"us-east-1.aws.found.io").decode()
    kube.apply(cloud_manifest("malformed", malformed, deploymentId="malformed-one"))

    stalled = wait_for(lambda: stalled_with(kube, "malformed", "InvalidCloudId"), what="malformed Stalled")
    assert stalled["message"] == (
        "elasticsearch.cloudId is not a valid Elastic Cloud id: it decodes to no Elasticsearch id "
        "(expected <host>$<elasticsearch id>$<kibana id>)"
    )
    ready_condition = kube.condition("malformed", "Ready")
    assert ready_condition is not None and ready_condition["reason"] == "InvalidCloudId"

    def untrusted_refused() -> bool:
        found = kube.condition("untrusted", "Ready")
        return bool(found and found["status"] != "True" and "certificate" in found["message"].lower())

    wait_for(untrusted_refused, what="the untrusted certificate refused")
    assert simulator.requests("/deployment/_start", method="POST") == []
    assert not ready(kube, "untrusted")
