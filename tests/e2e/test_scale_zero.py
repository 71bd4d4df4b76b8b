"""Scale to zero through /scale: stopped and kept, then started again with the spec's parameters."""

from __future__ import annotations

from harness.polling import wait_for
from harness.status import converged
from tests.e2e.conftest import Kube, model_deployment
from tests.support.operator import OperatorProcess
from tests.support.simulator import DEMO_MODEL, SimulatorProcess


def test_kubectl_scale_to_zero_and_back(
    kube: Kube, simulator: SimulatorProcess, es_url: str, es_secrets: dict[str, str], operator: OperatorProcess
) -> None:
    kube.apply(model_deployment("ner", es_url, allocations=2, threadsPerAllocation=2))
    wait_for(lambda: converged(kube.mdep("ner"), 2), what="Ready with 2")
    kube.kubectl("scale", "mdep/ner", "--replicas=0")

    def scaled_to_zero() -> bool:
        cond = kube.condition("ner", "Ready")
        return bool(cond and cond["status"] == "True" and cond["reason"] == "ScaledToZero")

    wait_for(scaled_to_zero, what="Ready as ScaledToZero")
    assert simulator.deployment(DEMO_MODEL) is None
    stops = simulator.requests("/deployment/_stop", method="POST")
    assert len(stops) == 1 and stops[0]["query"].get("force") in (None, "false")  # never forced
    assert "allocations" not in kube.mdep("ner")["status"]  # ALLOCATED is blank: no deployment
    reasons = [e["reason"] for e in kube.events("ner")]
    assert "DeploymentStopped" in reasons

    kube.kubectl("scale", "mdep/ner", "--replicas=3")
    wait_for(lambda: converged(kube.mdep("ner"), 3), what="Ready with 3 again")
    started = simulator.deployment(DEMO_MODEL)
    assert started is not None and started["threads_per_allocation"] == 2  # the spec's start parameters
    assert len(simulator.requests("/deployment/_start", method="POST")) == 2
