"""Argo CD's view of ModelDeployments the real operator reconciled (health.lua in Lua 5.1, through lupa).

The objects judged here are also the source of the Argo CD testdata: run with
``ESML_CAPTURE_ARGOCD_TESTDATA=1`` to rewrite
``manifests/argocd/resource_customizations/esml.io/ModelDeployment/testdata``
from this run (namespace and URLs normalized, server bookkeeping dropped);
tests/repo/test_argocd_health.py then checks health_test.yaml against them.
"""

from __future__ import annotations

import copy
import os
import re
from collections.abc import Callable
from typing import Any

import yaml

from harness.polling import wait_for
from tests.e2e.conftest import Kube, model_deployment, ready, stalled_with
from tests.e2e.test_kstatus import kstatus
from tests.support.argocd import CUSTOMIZATION, run_health
from tests.support.operator import OperatorProcess
from tests.support.simulator import SimulatorProcess

CAPTURE = os.environ.get("ESML_CAPTURE_ARGOCD_TESTDATA") == "1"
CAPTURE_NAMESPACE = "ml"
CAPTURE_URL = "https://elasticsearch.ml.svc:9200"


def normalized(obj: dict[str, Any], namespace: str) -> dict[str, Any]:
    """The object as a user would see it in Git/Argo CD, without this run's random parts."""
    obj = copy.deepcopy(obj)
    meta = obj["metadata"]
    for key in ("managedFields", "uid", "resourceVersion"):
        meta.pop(key, None)
    meta["namespace"] = CAPTURE_NAMESPACE
    meta.get("annotations", {}).pop("kubectl.kubernetes.io/last-applied-configuration", None)
    if not meta.get("annotations"):
        meta.pop("annotations", None)
    text = yaml.safe_dump(obj, sort_keys=False)
    text = re.sub(r"https://(localhost|127\.0\.0\.1):\d+", CAPTURE_URL, text)
    text = text.replace(namespace, CAPTURE_NAMESPACE)
    return dict(yaml.safe_load(text))


def judge(kube: Kube, name: str, capture_as: str, expected: str) -> dict[str, str]:
    obj = kube.mdep(name)
    verdict = run_health(obj)
    assert verdict["status"] == expected, (verdict, obj.get("status"))
    if CAPTURE:
        path = CUSTOMIZATION / "testdata" / f"{capture_as}.yaml"
        header = "# Captured from tests/e2e/test_argocd_health.py (ESML_CAPTURE_ARGOCD_TESTDATA=1).\n"
        path.write_text(header + yaml.safe_dump(normalized(obj, kube.namespace), sort_keys=False))
    return verdict


def condition_is(kube: Kube, name: str, type_: str, status: str, reason: str) -> Callable[[], bool]:
    def check() -> bool:
        found = kube.condition(name, type_)
        # An AssertionError is what wait_for reports when it times out.
        assert found and found["status"] == status and found["reason"] == reason, found
        return True

    return check


def test_argo_cd_health_of_live_resources(
    kube: Kube,
    simulator_factory: Callable[..., SimulatorProcess],
    simulator: SimulatorProcess,
    es_url: str,
    es_secrets: dict[str, str],
    operator: OperatorProcess,
) -> None:
    kube.apply(model_deployment("healthy", es_url, allocations=2))
    kube.apply(model_deployment("never", es_url, deploymentId="not-there", startPolicy="Never"))
    kube.apply(model_deployment("paused", es_url, deploymentId="paused-one", paused=True))
    kube.apply(model_deployment("no-secret", es_url, credentials="missing-credentials"))
    # Nothing listens here: the operator keeps retrying (a temporary error).
    kube.apply(model_deployment("unreachable", f"https://localhost:{_closed_port()}"))
    slow = simulator_factory(allocation_delay=120.0)
    slow_url = slow.url.replace("127.0.0.1", "localhost")
    kube.secret("slow-credentials", {"api_key": slow.create_api_key()})
    kube.secret("slow-ca", {"ca.crt": slow.ca_pem})
    kube.apply(
        model_deployment(
            "starting", slow_url, credentials="slow-credentials", ca="slow-ca", deploymentId="starting-one"
        )
    )

    wait_for(lambda: ready(kube, "healthy"), what="healthy Ready")
    verdict = judge(kube, "healthy", "healthy", "Healthy")
    assert verdict["message"].startswith("FullyAllocated"), verdict

    wait_for(lambda: stalled_with(kube, "never", "DeploymentNotFound"), what="never Stalled")
    verdict = judge(kube, "never", "degraded_deployment_not_found", "Degraded")
    assert verdict["message"].startswith("DeploymentNotFound: ") and "not-there" in verdict["message"], verdict

    wait_for(lambda: stalled_with(kube, "no-secret", "SecretNotFound"), what="no-secret Stalled")
    verdict = judge(kube, "no-secret", "degraded_secret_not_found", "Degraded")
    assert "missing-credentials" in verdict["message"], verdict

    wait_for(condition_is(kube, "paused", "Reconciling", "False", "Paused"), what="paused observed")
    verdict = judge(kube, "paused", "suspended_paused", "Suspended")
    assert verdict["message"].startswith("Reconciliation is paused (spec.paused); Ready False"), verdict

    wait_for(condition_is(kube, "starting", "Reconciling", "True", "Starting"), what="starting in progress")
    verdict = judge(kube, "starting", "progressing_starting", "Progressing")
    assert verdict["message"].startswith("Starting"), verdict

    wait_for(
        condition_is(kube, "unreachable", "Reconciling", "True", "ProgressingWithRetry"), what="unreachable retrying"
    )
    judge(kube, "unreachable", "progressing_unreachable", "Progressing")

    # A spec change the operator has not observed yet: Progressing, whatever the conditions say.
    operator.stop()
    kube.kubectl("patch", "modeldeployment", "healthy", "--type=merge", "-p", '{"spec":{"numberOfAllocations":3}}')
    verdict = judge(kube, "healthy", "progressing_generation_lag", "Progressing")
    assert verdict["message"] == "Waiting for the operator to observe generation 2 (observed 1)", verdict

    # Just applied, never seen by an operator: no status at all.
    kube.apply(model_deployment("fresh", es_url))
    verdict = judge(kube, "fresh", "progressing_no_status", "Progressing")
    assert verdict["message"] == "Waiting for the operator to observe the resource"


def test_an_autoscaler_conflict_is_shown_by_kubectl_get_and_stays_healthy_and_current(
    kube: Kube, simulator: SimulatorProcess, es_url: str, es_secrets: dict[str, str], operator: OperatorProcess
) -> None:
    """Issue 17 item 7: an HPA on a resource with adaptive allocations. The deployment serves (Argo CD Healthy,
    kstatus Current), and the default columns say there is a conflict."""
    hpa = {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": "conflict"},
        "spec": {
            "scaleTargetRef": {"apiVersion": "esml.io/v1alpha1", "kind": "ModelDeployment", "name": "conflict"},
            "minReplicas": 1,
            "maxReplicas": 4,
        },
    }
    kube.apply(hpa)  # no controller-manager runs: the HPA object alone is what the operator looks up
    adaptive = {"enabled": True, "minNumberOfAllocations": 1, "maxNumberOfAllocations": 4}
    kube.apply(model_deployment("conflict", es_url, adaptiveAllocations=adaptive))
    wait_for(condition_is(kube, "conflict", "Ready", "True", "AutoscalerConflict"), what="Ready with the conflict")
    assert kube.condition("conflict", "AutoscalerConflict")["status"] == "True"  # type: ignore[index]

    rows = kube.kubectl("get", "modeldeployment", "conflict").stdout.splitlines()
    header, row = rows[0].split(), rows[1].split()
    assert header == ["NAME", "DESIRED", "ALLOCATED", "READY", "REASON", "AGE"], rows
    assert row[:6] == ["conflict", "adaptive", "1-4", "1", "True", "AutoscalerConflict"], rows  # DESIRED has a space

    verdict = judge(kube, "conflict", "healthy_autoscaler_conflict", "Healthy")
    assert verdict["message"].startswith("AutoscalerConflict: Deployment ["), verdict
    assert "HorizontalPodAutoscaler conflict" in verdict["message"], verdict
    assert kstatus(kube, "conflict")["status"] == "Current"


def _closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
