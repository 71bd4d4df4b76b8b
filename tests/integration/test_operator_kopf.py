"""The operator in-process under kopf's KopfRunner, against the real API server and the simulator."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from kopf.testing import KopfRunner

from esml_operator.manager.registration import build_registry
from esml_operator.settings import Settings
from harness.polling import wait_for
from harness.runner import ControlPlane
from harness.status import is_ready
from tests.support.simulator import DEMO_MODEL, SimulatorProcess


@pytest.fixture
def plain_simulator(tmp_path: Path) -> Iterator[SimulatorProcess]:
    sim = SimulatorProcess(tmp_path / "sim", tls=False, extra=("--no-security",), allocation_delay=0.2)
    yield sim
    sim.stop()


def _settings(plane: ControlPlane, namespace: str) -> Settings:
    return Settings(
        namespaces=(namespace,),
        kubeconfig=str(plane.kubeconfig),
        resync_interval=1.0,
        min_poll_interval=0.2,
        liveness_endpoint="",
        lease_namespace=namespace,
    )


def _runner(plane: ControlPlane, namespace: str) -> KopfRunner:
    settings = _settings(plane, namespace)
    return KopfRunner(["run", "--standalone", "--namespace", namespace], registry=build_registry(settings), timeout=60)


def _apply(plane: ControlPlane, namespace: str, name: str, url: str, **spec: Any) -> None:
    body = {
        "apiVersion": "esml.io/v1alpha1",
        "kind": "ModelDeployment",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"modelId": DEMO_MODEL, "elasticsearch": {"url": url}, **spec},
    }
    plane.kubectl("apply", "-f", "-", input=yaml.safe_dump(body))


def _status(plane: ControlPlane, namespace: str, name: str) -> dict[str, Any]:
    out = plane.kubectl("get", "-n", namespace, "mdep", name, "-o", "json").stdout
    return dict(json.loads(out).get("status", {}))


def _wait_ready(plane: ControlPlane, namespace: str, name: str, timeout: float = 45) -> dict[str, Any]:
    def ready() -> dict[str, Any]:
        status = _status(plane, namespace, name)
        assert is_ready({"status": status}), f"not Ready yet: {status}"
        return status

    found: dict[str, Any] = wait_for(ready, timeout=timeout, what=f"{namespace}/{name} to become Ready")
    return found


def test_only_the_watched_namespace_is_reconciled(
    control_plane: ControlPlane, namespace: str, plain_simulator: SimulatorProcess
) -> None:
    other = f"t-{uuid.uuid4().hex[:10]}"
    control_plane.kubectl("create", "namespace", other)
    try:
        _apply(control_plane, other, "elsewhere", plain_simulator.url, deploymentId="elsewhere")
        with _runner(control_plane, namespace):
            _apply(control_plane, namespace, "mine", plain_simulator.url, numberOfAllocations=2)
            status = _wait_ready(control_plane, namespace, "mine")
            assert status["allocations"] == 2
            assert _status(control_plane, other, "elsewhere") == {}
        starts = plain_simulator.requests("/deployment/_start")
        assert [r["query"].get("deployment_id") for r in starts] == [DEMO_MODEL]
    finally:
        control_plane.kubectl("delete", "namespace", other, "--wait=false", check=False)


def test_a_restarted_operator_adopts_instead_of_starting_again(
    control_plane: ControlPlane, namespace: str, plain_simulator: SimulatorProcess
) -> None:
    with _runner(control_plane, namespace):
        _apply(control_plane, namespace, "ner", plain_simulator.url)
        first = _wait_ready(control_plane, namespace, "ner")
    # Divergence while no operator runs, then a fresh operator process state.
    plain_simulator.admin("POST", f"deployments/{DEMO_MODEL}/_set_allocations", {"number_of_allocations": 3})
    with _runner(control_plane, namespace):
        wait_for(lambda: plain_simulator.requests("/deployment/_update"), timeout=45, what="the correcting _update")
        status = _wait_ready(control_plane, namespace, "ner")
    assert len(plain_simulator.requests("/deployment/_start")) == 1
    updates = plain_simulator.requests("/deployment/_update")
    assert len(updates) == 1 and updates[0]["body"] == {"number_of_allocations": 1}
    assert status["allocations"] == 1
    assert status["startTime"] == first["startTime"]
    # kopf keeps its own bookkeeping (if any) under status.kopf, never in annotations.
    meta = json.loads(control_plane.kubectl("get", "-n", namespace, "mdep", "ner", "-o", "json").stdout)["metadata"]
    assert not any(k.startswith("kopf.zalando.org") for k in meta.get("annotations", {}))
