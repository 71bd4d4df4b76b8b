"""A real HorizontalPodAutoscaler (kube-controller-manager) drives a ModelDeployment on the operator's external metric.

The operator serves ``external.metrics.k8s.io/v1beta1`` (``--external-metrics``) behind an APIService,
so kube-apiserver's aggregation layer calls it with its front-proxy client certificate. Load injected
into the simulator's ``_stats`` rises in the metric, the HPA writes ``/scale``, the operator sends
``_update``; when the load drops, the HPA scales down after its (short) stabilisation window.
The HPA is the shipped example, manifests/examples/hpa-external-metrics.yaml, so the example is proven.
"""

from __future__ import annotations

import base64
import json
import urllib.parse
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from harness.certs import TinyCA
from harness.polling import wait_for
from harness.process import Process
from harness.runner import REPO, ControlPlane, free_port
from harness.status import converged
from tests.e2e.conftest import Kube, model_deployment
from tests.support.operator import OperatorProcess
from tests.support.simulator import DEMO_MODEL, SimulatorProcess

PENDING = "esml_modeldeployment_inference_pending_requests"
EXAMPLE_HPA = REPO / "manifests" / "examples" / "hpa-external-metrics.yaml"
NAME = "ner-english"  # the ModelDeployment the example HPA scales
API_SERVICE = "v1beta1.external.metrics.k8s.io"
SERVICE = "esml-external-metrics"
DOWNSCALE_WINDOW = 5  # seconds (the default is 300)


@pytest.fixture
def controller_manager(control_plane: ControlPlane, namespace: str) -> Iterator[Process]:
    """The HPA (synced every second), namespace and garbage-collector controllers, for this test only.

    Torn down after the operator and the APIService: it deletes the test's namespace and waits until the
    namespace controller has really removed it (everything in it included), then stops.
    """
    proc = control_plane.start_controller_manager(hpa_sync_period=1.0, downscale_stabilization=DOWNSCALE_WINDOW)
    yield proc
    try:
        control_plane.kubectl("delete", "namespace", namespace, "--wait=true", "--timeout=90s")
    finally:
        proc.stop()


@dataclass
class ExternalMetrics:
    plane: ControlPlane
    port: int
    cert: Path
    key: Path
    api_service: dict[str, Any]

    def flags(self) -> tuple[str, ...]:
        return (
            "--external-metrics",
            "--external-metrics-endpoint",
            f"https://127.0.0.1:{self.port}",
            "--external-metrics-cert-file",
            str(self.cert),
            "--external-metrics-key-file",
            str(self.key),
        )

    def register(self) -> None:
        """Create the APIService (once the operator serves) and wait until kube-apiserver finds it Available."""
        self.plane.kubectl("apply", "-f", "-", input=json.dumps(self.api_service))
        self.plane.kubectl("wait", "--for=condition=Available", f"apiservice/{API_SERVICE}", "--timeout=60s")


@pytest.fixture
def external_metrics(kube: Kube, control_plane: ControlPlane, tmp_path: Path) -> Iterator[ExternalMetrics]:
    """The APIService for the operator's API: a Service that resolves to this machine (ExternalName), the
    serving CA as caBundle. The operator reads the request-header CA from kube-system's ConfigMap."""
    ca = TinyCA(tmp_path / "external-metrics-ca", "esml-external-metrics-ca")
    pair = ca.server("serving", [f"{SERVICE}.{kube.namespace}.svc", "localhost", "127.0.0.1"])
    port = free_port()
    kube.apply(
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": SERVICE},
            "spec": {"type": "ExternalName", "externalName": "localhost"},
        }
    )
    api_service = {
        "apiVersion": "apiregistration.k8s.io/v1",
        "kind": "APIService",
        "metadata": {"name": API_SERVICE},
        "spec": {
            "group": "external.metrics.k8s.io",
            "version": "v1beta1",
            "service": {"namespace": kube.namespace, "name": SERVICE, "port": port},
            "caBundle": base64.b64encode(ca.cert.read_bytes()).decode(),
            "groupPriorityMinimum": 100,
            "versionPriority": 100,
        },
    }
    yield ExternalMetrics(control_plane, port, pair.cert, pair.key, api_service)
    control_plane.kubectl("delete", "apiservice", API_SERVICE, "--ignore-not-found", "--wait=false")


def apply_example_hpa(kube: Kube) -> dict[str, Any]:
    """The shipped example, applied as a user would; only its scale-down window is shortened (300 s there)."""
    kube.plane.kubectl("apply", "-n", kube.namespace, "-f", str(EXAMPLE_HPA))
    window = {"spec": {"behavior": {"scaleDown": {"stabilizationWindowSeconds": DOWNSCALE_WINDOW}}}}
    kube.plane.kubectl("patch", "hpa", NAME, "-n", kube.namespace, "--type", "merge", "-p", json.dumps(window))
    example = yaml.safe_load(EXAMPLE_HPA.read_text())
    assert example["spec"]["scaleTargetRef"]["name"] == NAME
    return dict(example)


def external_metric(kube: Kube, name: str) -> list[dict[str, Any]]:
    """The external metric as the HPA reads it: through kube-apiserver's aggregation layer."""
    selector = urllib.parse.quote(f"name={name}")
    raw = kube.plane.kubectl(
        "get",
        "--raw",
        f"/apis/external.metrics.k8s.io/v1beta1/namespaces/{kube.namespace}/{PENDING}?labelSelector={selector}",
    ).stdout
    return list(json.loads(raw)["items"])


def set_pending(simulator: SimulatorProcess, pending: int) -> None:
    simulator.admin("PUT", f"deployments/{DEMO_MODEL}/_inference_stats", {"number_of_pending_requests": pending})


def metric_is(kube: Kube, name: str, value: str) -> bool:
    return [item["value"] for item in external_metric(kube, name)] == [value]


def allocations_in_es(simulator: SimulatorProcess) -> int | None:
    stats = simulator.deployment(DEMO_MODEL)
    return stats.get("number_of_allocations") if stats else None


def update_bodies(simulator: SimulatorProcess) -> list[dict[str, Any]]:
    return [r["body"] or {} for r in simulator.requests("/deployment/_update", method="POST")]


@pytest.fixture
def example_hpa(
    kube: Kube,
    es_url: str,
    es_secrets: dict[str, str],
    controller_manager: Process,
    external_metrics: ExternalMetrics,
    operator_factory: Callable[..., OperatorProcess],
) -> dict[str, Any]:
    """The operator serving the external metric, the example's ModelDeployment Ready at 1 allocation, the
    example HPA applied and its metric read at 0."""
    operator_factory(*external_metrics.flags())
    external_metrics.register()
    kube.apply(model_deployment(NAME, es_url, allocations=1))
    wait_for(lambda: converged(kube.mdep(NAME), 1), what="Ready with 1 allocation")
    example = apply_example_hpa(kube)
    wait_for(lambda: metric_is(kube, NAME, "0"), what="the external metric at 0")
    return example


def test_a_real_hpa_scales_a_model_deployment_up_and_down_on_pending_requests(
    kube: Kube, simulator: SimulatorProcess, example_hpa: dict[str, Any]
) -> None:
    target = example_hpa["spec"]["metrics"][0]["external"]["target"]
    assert (target["type"], target["averageValue"]) == ("AverageValue", "10")

    set_pending(simulator, 35)  # 35 queued requests, 10 per allocation wanted: 4 allocations
    wait_for(lambda: metric_is(kube, NAME, "35"), what="the external metric rising to 35")
    wait_for(lambda: kube.mdep(NAME)["spec"]["numberOfAllocations"] == 4, what="the HPA writing /scale")
    wait_for(lambda: converged(kube.mdep(NAME), 4), timeout=60, what="Elasticsearch at 4 allocations")
    assert allocations_in_es(simulator) == 4
    assert {"number_of_allocations": 4} in update_bodies(simulator)

    def hpa_reports_the_metric() -> dict[str, Any] | None:
        status = (kube.get("hpa", NAME) or {}).get("status", {})
        for metric in status.get("currentMetrics") or []:
            if metric.get("external", {}).get("metric", {}).get("name") == PENDING:
                current = metric["external"]["current"]
                if status.get("currentReplicas") == 4 and current.get("averageValue") == "8750m":  # 35 / 4
                    return dict(status)
        return None

    status = wait_for(hpa_reports_the_metric, what="the HPA status showing the metric over 4 allocations")
    conditions = {c["type"]: c for c in status["conditions"]}
    assert conditions["ScalingActive"]["status"] == "True", conditions
    assert conditions["AbleToScale"]["status"] == "True", conditions

    set_pending(simulator, 0)
    wait_for(lambda: metric_is(kube, NAME, "0"), what="the external metric back at 0")
    wait_for(
        lambda: kube.mdep(NAME)["spec"]["numberOfAllocations"] == 1,
        timeout=DOWNSCALE_WINDOW + 45,
        what="the HPA scaling down after its stabilisation window",
    )
    wait_for(lambda: converged(kube.mdep(NAME), 1), timeout=60, what="Elasticsearch back at 1 allocation")
    assert allocations_in_es(simulator) == 1
    assert update_bodies(simulator)[-1] == {"number_of_allocations": 1}
    events = [(e["reason"], e.get("message", "")) for e in kube.events(NAME)]
    assert not [e for e in events if e[0] == "AutoscalerConflict"]
    cond = kube.condition(NAME, "AutoscalerConflict")
    assert cond is not None and (cond["status"], cond["reason"]) == ("False", "NoConflict")


def test_an_hpa_and_adaptive_allocations_never_fight(
    kube: Kube,
    simulator: SimulatorProcess,
    es_url: str,
    es_secrets: dict[str, str],
    controller_manager: Process,
    external_metrics: ExternalMetrics,
    operator_factory: Callable[..., OperatorProcess],
) -> None:
    operator_factory(*external_metrics.flags())
    external_metrics.register()
    adaptive = {"enabled": True, "minNumberOfAllocations": 1, "maxNumberOfAllocations": 4}
    kube.apply(model_deployment(NAME, es_url, allocations=1, adaptiveAllocations=adaptive))
    wait_for(lambda: converged(kube.mdep(NAME), 1), what="Ready with adaptive allocations at 1")
    apply_example_hpa(kube)

    def conflict() -> dict[str, Any] | None:
        found = kube.condition(NAME, "AutoscalerConflict")
        return found if found and found["status"] == "True" else None

    found = wait_for(conflict, what="the AutoscalerConflict condition")
    assert found["reason"] == "AdaptiveAllocationsEnabled" and f"HorizontalPodAutoscaler {NAME}" in found["message"]
    assert ("AutoscalerConflict", "Warning") in [(e["reason"], e["type"]) for e in kube.events(NAME)]

    set_pending(simulator, 35)
    wait_for(lambda: kube.mdep(NAME)["spec"]["numberOfAllocations"] == 4, what="the HPA writing /scale anyway")
    generation = kube.mdep(NAME)["metadata"]["generation"]
    polls = len(simulator.requests("/_all/_stats", method="GET"))  # the operator's polls, not the test's reads

    def seen_twice_since() -> bool:  # the new spec was processed, on two polls newer than the HPA's write
        status = kube.mdep(NAME)["status"]
        return status.get("observedGeneration") == generation and (
            len(simulator.requests("/_all/_stats", method="GET")) >= polls + 2
        )

    wait_for(seen_twice_since, what="two polls after the HPA's change")
    assert not [body for body in update_bodies(simulator) if "number_of_allocations" in body]
    assert allocations_in_es(simulator) == 1  # Elasticsearch's adaptive scaler decides, not the HPA
    status = kube.mdep(NAME)["status"]
    assert status["allocations"] == 1  # /scale keeps reporting the real count
    assert kube.condition(NAME, "AutoscalerConflict")["status"] == "True"  # type: ignore[index]


def send_inference_calls(simulator: SimulatorProcess, count: int) -> None:
    """Real ``_infer`` calls, one document each, as an application would send them."""
    with simulator.http() as client:
        for i in range(count):
            reply = client.post(f"/_ml/trained_models/{DEMO_MODEL}/_infer", json={"docs": [{"text_field": f"c{i}"}]})
            reply.raise_for_status()


def test_real_inference_calls_drive_the_hpa_up_and_back_down(
    kube: Kube, simulator: SimulatorProcess, example_hpa: dict[str, Any]
) -> None:
    # Each call takes 500 ms of its allocation: 60 calls at once are a 30 s backlog on the one allocation.
    simulator.admin("POST", f"deployments/{DEMO_MODEL}/_load", {"requests_per_second": 0, "inference_time_ms": 500})
    send_inference_calls(simulator, 60)
    wait_for(
        lambda: kube.mdep(NAME)["spec"]["numberOfAllocations"] > 1, what="the HPA scaling up on real inference calls"
    )
    # The HPA's /scale write and the operator's _update are two steps: wait for the second as well.
    wait_for(
        lambda: [b for b in update_bodies(simulator) if b.get("number_of_allocations", 1) > 1],
        what="the operator's _update above 1 allocation",
    )
    stats = simulator.deployment(DEMO_MODEL)
    assert stats is not None and stats["inference_count"] == 60

    wait_for(lambda: metric_is(kube, NAME, "0"), timeout=90, what="the backlog served, the metric back at 0")
    wait_for(
        lambda: kube.mdep(NAME)["spec"]["numberOfAllocations"] == 1,
        timeout=DOWNSCALE_WINDOW + 60,
        what="the HPA scaling back down",
    )
    wait_for(lambda: converged(kube.mdep(NAME), 1), timeout=60, what="Elasticsearch back at 1 allocation")
