"""Every way to connect: an API key, basic auth, an ECK reference, TLS trust, plain HTTP.

Each test proves the operator reaches Ready through one connection form (or
refuses it with a clear, stalled condition) against the real simulator process.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from harness.certs import TinyCA
from harness.polling import wait_for
from tests.e2e.conftest import Kube, model_deployment, ready, require_condition, stalled_with
from tests.support.operator import OperatorProcess
from tests.support.simulator import DEMO_MODEL, ELASTIC_PASSWORD, SimulatorProcess

ECK_NAME = "quickstart"
ECK_SELECTOR = "elasticsearch.k8s.elastic.co/cluster-name=quickstart,elasticsearch.k8s.elastic.co/node-ml=true"


def test_url_with_an_api_key(
    kube: Kube, simulator: SimulatorProcess, es_url: str, es_secrets: dict[str, str], operator: OperatorProcess
) -> None:
    kube.apply(model_deployment("ner", es_url))
    wait_for(lambda: ready(kube, "ner"), what="Ready with an API key")
    status = kube.mdep("ner")["status"]
    assert status["selector"] == "esml.io/model-deployment=ner"
    assert status["elasticsearchVersion"] == "9.2.0"
    assert require_condition(kube, "ner", "ElasticsearchReachable")["status"] == "True"
    assert simulator.deployment(DEMO_MODEL) is not None


def test_url_with_basic_auth(kube: Kube, simulator: SimulatorProcess, es_url: str, operator: OperatorProcess) -> None:
    kube.secret("basic", {"username": "elastic", "password": ELASTIC_PASSWORD})
    kube.secret("es-ca", {"ca.crt": simulator.ca_pem})
    kube.apply(model_deployment("ner", es_url, credentials="basic", allocations=2))
    wait_for(lambda: ready(kube, "ner"), what="Ready with basic auth")
    assert kube.mdep("ner")["status"]["allocations"] == 2
    assert simulator.deployment(DEMO_MODEL)["allocation_status"]["allocation_count"] == 2  # type: ignore[index]


def eck_objects(
    kube: Kube, simulator: SimulatorProcess, name: str = ECK_NAME, *, password: str = ELASTIC_PASSWORD
) -> None:
    """The Secrets and the Service exactly as ECK creates them for ``Elasticsearch/<name>``."""
    namespace = kube.namespace
    cluster = {"common.k8s.elastic.co/type": "elasticsearch", "elasticsearch.k8s.elastic.co/cluster-name": name}
    owner = {
        "eck.k8s.elastic.co/owner-kind": "Elasticsearch",
        "eck.k8s.elastic.co/owner-name": name,
        "eck.k8s.elastic.co/owner-namespace": namespace,
    }
    kube.secret(
        f"{name}-es-elastic-user",
        {"elastic": password},
        labels={**cluster, **owner, "eck.k8s.elastic.co/credentials": "true"},
    )
    # ECK publishes the HTTP CA and the leaf certificate; the operator must pick ca.crt.
    tls_crt = (simulator.dir / "pki" / "es-http.crt").read_bytes()
    kube.secret(f"{name}-es-http-certs-public", {"ca.crt": simulator.ca_pem, "tls.crt": tls_crt}, labels=cluster)
    kube.apply(
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": f"{name}-es-http", "labels": cluster},
            "spec": {
                "type": "ClusterIP",
                "selector": cluster,
                "ports": [{"name": "https", "port": simulator.port, "protocol": "TCP", "targetPort": 9200}],
            },
        }
    )


def eck_manifest(name: str, ref: dict[str, str], **spec: Any) -> dict[str, Any]:
    body = {"modelId": DEMO_MODEL, "numberOfAllocations": 1, "elasticsearch": {"elasticsearchRef": ref}, **spec}
    return {"apiVersion": "esml.io/v1alpha1", "kind": "ModelDeployment", "metadata": {"name": name}, "spec": body}


def test_eck_reference(
    kube: Kube, simulator: SimulatorProcess, operator_factory: Callable[..., OperatorProcess]
) -> None:
    eck_objects(kube, simulator)
    operator = operator_factory("--eck-url-template", "https://localhost:{port}")
    kube.apply(eck_manifest("ner", {"name": ECK_NAME}))
    wait_for(lambda: ready(kube, "ner"), what="Ready through an ECK reference")
    status = kube.mdep("ner")["status"]
    assert status["selector"] == ECK_SELECTOR
    assert simulator.deployment(DEMO_MODEL) is not None
    assert operator.process.alive()


def test_cross_namespace_eck_reference_is_forbidden_by_default(
    kube: Kube, simulator: SimulatorProcess, operator: OperatorProcess
) -> None:
    eck_objects(kube, simulator)
    kube.apply(eck_manifest("ner", {"name": ECK_NAME, "namespace": "elastic-system"}))
    stalled = wait_for(
        lambda: stalled_with(kube, "ner", "CrossNamespaceReferenceForbidden"), what="CrossNamespaceReferenceForbidden"
    )
    assert "elastic-system" in stalled["message"] and "--allow-cross-namespace-refs" in stalled["message"]
    assert require_condition(kube, "ner", "Ready")["status"] == "False"
    # Nothing was sent to any Elasticsearch, and no secret of another namespace was read.
    assert simulator.requests() == []


def test_tls_with_a_ca_under_a_custom_key(
    kube: Kube, simulator: SimulatorProcess, es_url: str, es_secrets: dict[str, str], operator: OperatorProcess
) -> None:
    kube.secret("custom-ca", {"root.pem": simulator.ca_pem})
    manifest = model_deployment("ner", es_url, ca=None)
    manifest["spec"]["elasticsearch"]["caSecretRef"] = {"name": "custom-ca", "key": "root.pem"}
    kube.apply(manifest)
    wait_for(lambda: ready(kube, "ner"), what="Ready with a CA under a custom key")


def test_wrong_ca_is_a_stalled_tls_condition(
    kube: Kube,
    simulator: SimulatorProcess,
    es_url: str,
    es_secrets: dict[str, str],
    operator: OperatorProcess,
    tmp_path: Path,
) -> None:
    other = TinyCA(tmp_path / "other-ca", "not-the-simulators-ca")
    kube.secret("es-ca", {"ca.crt": other.cert.read_bytes()})  # replaces the right CA
    kube.apply(model_deployment("ner", es_url))
    stalled = wait_for(lambda: stalled_with(kube, "ner", "TLSError"), what="Stalled with reason TLSError")
    assert "certificate" in stalled["message"]
    reachable = require_condition(kube, "ner", "ElasticsearchReachable")
    assert (reachable["status"], reachable["reason"]) == ("False", "TLSError")
    assert require_condition(kube, "ner", "Ready")["status"] == "False"
    assert require_condition(kube, "ner", "Reconciling")["status"] == "False"  # not a retry loop
    assert operator.process.alive()
    # Fixing the CA Secret recovers without touching the resource.
    kube.secret("es-ca", {"ca.crt": simulator.ca_pem})
    wait_for(lambda: ready(kube, "ner"), what="Ready after the CA was fixed")


def test_insecure_skip_tls_verify_needs_no_ca(
    kube: Kube, simulator: SimulatorProcess, es_url: str, es_secrets: dict[str, str], operator: OperatorProcess
) -> None:
    manifest = model_deployment("ner", es_url, ca=None)
    manifest["spec"]["elasticsearch"]["insecureSkipTLSVerify"] = True
    kube.apply(manifest)
    wait_for(lambda: ready(kube, "ner"), what="Ready without a CA (insecureSkipTLSVerify)")


def test_without_a_ca_the_private_certificate_is_not_trusted(
    kube: Kube, simulator: SimulatorProcess, es_url: str, es_secrets: dict[str, str], operator: OperatorProcess
) -> None:
    kube.apply(model_deployment("ner", es_url, ca=None))
    wait_for(lambda: stalled_with(kube, "ner", "TLSError"), what="Stalled TLSError without a CA")


def test_plain_http_with_credentials_is_refused_unless_allowed(
    kube: Kube,
    simulator_factory: Callable[..., SimulatorProcess],
    operator_factory: Callable[..., OperatorProcess],
) -> None:
    plain = simulator_factory(tls=False)
    assert plain.url.startswith("http://")
    kube.secret("es-credentials", {"username": "elastic", "password": ELASTIC_PASSWORD})
    operator = operator_factory()
    kube.apply(model_deployment("ner", plain.url, ca=None))
    stalled = wait_for(
        lambda: stalled_with(kube, "ner", "InsecureConnectionError"), what="Stalled InsecureConnectionError"
    )
    assert "plain http://" in stalled["message"]
    assert "--allow-plain-http-credentials" in stalled["message"]
    assert plain.requests() == []  # the credentials never left the operator
    operator.stop()

    operator_factory("--allow-plain-http-credentials")
    wait_for(lambda: ready(kube, "ner"), what="Ready over plain HTTP once explicitly allowed")
