"""Flux's kstatus library (built from github.com/fluxcd/cli-utils) is the oracle for our conditions."""

from __future__ import annotations

import json
import subprocess

from harness.polling import wait_for
from harness.runner import REPO
from tests.e2e.conftest import Kube, model_deployment, ready, stalled_with
from tests.support.operator import OperatorProcess
from tests.support.simulator import SimulatorProcess

KSTATUS = REPO / ".local" / "bin" / "kstatus"


def kstatus(kube: Kube, name: str) -> dict[str, str]:
    obj = kube.kubectl("get", "modeldeployment", name, "-o", "json").stdout
    proc = subprocess.run([str(KSTATUS)], input=obj, capture_output=True, text=True, check=True, timeout=30)
    return dict(json.loads(proc.stdout))


def test_flux_reads_ready_stalled_and_progressing_as_intended(
    kube: Kube, simulator: SimulatorProcess, es_url: str, es_secrets: dict[str, str], operator: OperatorProcess
) -> None:
    assert KSTATUS.exists(), "build it with `make controlplane`"
    kube.apply(model_deployment("healthy", es_url, allocations=2))
    kube.apply(model_deployment("never", es_url, deploymentId="not-there", startPolicy="Never"))
    kube.apply(model_deployment("paused", es_url, deploymentId="paused-one", paused=True))

    wait_for(lambda: ready(kube, "healthy"), what="healthy Ready")
    assert kstatus(kube, "healthy")["status"] == "Current"

    wait_for(lambda: stalled_with(kube, "never", "DeploymentNotFound"), what="never Stalled")
    judged = kstatus(kube, "never")
    assert judged["status"] == "Failed", judged
    assert "not-there" in judged["message"]

    # Paused and missing: not ready, not stalled, nothing in progress -> Flux keeps waiting.
    wait_for(lambda: kube.condition("paused", "Reconciling"), what="paused has conditions")
    assert kstatus(kube, "paused")["status"] == "InProgress"

    # A spec change the operator has not observed yet is InProgress (observedGeneration lags).
    operator.stop()
    kube.kubectl("patch", "modeldeployment", "healthy", "--type=merge", "-p", '{"spec":{"numberOfAllocations":3}}')
    assert kstatus(kube, "healthy")["status"] == "InProgress"
