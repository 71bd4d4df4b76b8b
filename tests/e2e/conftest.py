"""End-to-end fixtures: the real control plane, the simulator process, the operator process, kubectl.

Each test gets its own namespace, its own simulator and its own operator
(watching only that namespace), so tests are independent and leave nothing
behind. Helpers wait for conditions with deadlines; there are no fixed sleeps.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from harness.runner import ControlPlane
from tests.support.operator import OperatorProcess
from tests.support.simulator import DEMO_MODEL, SimulatorProcess


class Kube:
    """kubectl in one namespace, plus waiting helpers."""

    def __init__(self, plane: ControlPlane, namespace: str) -> None:
        self.plane = plane
        self.namespace = namespace

    def kubectl(self, *args: str, check: bool = True, input: str | None = None) -> Any:
        return self.plane.kubectl("-n", self.namespace, *args, check=check, input=input)

    def apply(self, manifest: dict[str, Any] | str) -> Any:
        text = manifest if isinstance(manifest, str) else yaml.safe_dump(manifest)
        return self.kubectl("apply", "-f", "-", input=text)

    def get(self, kind: str, name: str) -> dict[str, Any] | None:
        proc = self.kubectl("get", kind, name, "-o", "json", check=False)
        if proc.returncode != 0:
            if "NotFound" in proc.stderr:
                return None
            raise AssertionError(proc.stderr)
        return dict(json.loads(proc.stdout))

    def mdep(self, name: str) -> dict[str, Any]:
        obj = self.get("modeldeployment", name)
        assert obj is not None, f"modeldeployment {name} not found"
        return obj

    def condition(self, name: str, type_: str) -> dict[str, Any] | None:
        for cond in self.mdep(name).get("status", {}).get("conditions", []):
            if cond["type"] == type_:
                return dict(cond)
        return None

    def secret(self, name: str, data: dict[str, str | bytes], labels: dict[str, str] | None = None) -> None:
        import base64

        encoded = {k: base64.b64encode(v if isinstance(v, bytes) else v.encode()).decode() for k, v in data.items()}
        meta: dict[str, Any] = {"name": name}
        if labels:
            meta["labels"] = labels
        self.apply({"apiVersion": "v1", "kind": "Secret", "metadata": meta, "type": "Opaque", "data": encoded})

    def events(self, name: str) -> list[dict[str, Any]]:
        out = self.kubectl("get", "events", "--field-selector", f"involvedObject.name={name}", "-o", "json")
        return list(json.loads(out.stdout)["items"])


def model_deployment(
    name: str,
    url: str,
    *,
    model: str = DEMO_MODEL,
    allocations: int = 1,
    credentials: str | None = "es-credentials",
    ca: str | None = "es-ca",
    **spec: Any,
) -> dict[str, Any]:
    """A ModelDeployment manifest with a URL connection; extra keyword arguments go into spec."""
    es: dict[str, Any] = {"url": url}
    if credentials:
        es["credentialsSecretRef"] = {"name": credentials}
    if ca:
        es["caSecretRef"] = {"name": ca}
    body: dict[str, Any] = {"modelId": model, "numberOfAllocations": allocations, "elasticsearch": es}
    body.update(spec)
    return {"apiVersion": "esml.io/v1alpha1", "kind": "ModelDeployment", "metadata": {"name": name}, "spec": body}


@pytest.fixture
def kube(control_plane: ControlPlane, namespace: str) -> Kube:
    return Kube(control_plane, namespace)


@pytest.fixture
def simulator_factory(tmp_path: Path) -> Iterator[Callable[..., SimulatorProcess]]:
    started: list[SimulatorProcess] = []

    def start(**kwargs: Any) -> SimulatorProcess:
        sim = SimulatorProcess(tmp_path / f"sim{len(started)}", **kwargs)
        started.append(sim)
        return sim

    yield start
    for sim in started:
        sim.stop()


@pytest.fixture
def simulator(simulator_factory: Callable[..., SimulatorProcess]) -> SimulatorProcess:
    """TLS + security, 2 ML nodes, the demo model preloaded, newest 9.x behaviour."""
    return simulator_factory()


@pytest.fixture
def es_url(simulator: SimulatorProcess) -> str:
    """The simulator's URL by host name (the certificate is issued for localhost and 127.0.0.1)."""
    return simulator.url.replace("127.0.0.1", "localhost")


@pytest.fixture
def es_secrets(kube: Kube, simulator: SimulatorProcess) -> dict[str, str]:
    """Credentials (an API key made through POST /_security/api_key) and the CA, as Secrets."""
    key = simulator.create_api_key()
    kube.secret("es-credentials", {"api_key": key})
    kube.secret("es-ca", {"ca.crt": simulator.ca_pem})
    return {"api_key": key}


@pytest.fixture
def operator_factory(
    control_plane: ControlPlane, namespace: str, tmp_path: Path
) -> Iterator[Callable[..., OperatorProcess]]:
    started: list[OperatorProcess] = []

    def start(
        *extra: str,
        resync_interval: float = 2.0,
        namespaces: tuple[str, ...] | None = None,
        all_namespaces: bool = False,
    ) -> OperatorProcess:
        op = OperatorProcess(
            control_plane.kubeconfig,
            namespaces=() if all_namespaces else namespaces or (namespace,),
            resync_interval=resync_interval,
            extra=extra,
            workdir=tmp_path / f"operator{len(started)}",
        )
        started.append(op)
        return op

    yield start
    for op in started:
        op.stop()


@pytest.fixture
def operator(operator_factory: Callable[..., OperatorProcess]) -> OperatorProcess:
    return operator_factory()


def require_condition(kube: Kube, name: str, type_: str) -> dict[str, Any]:
    found = kube.condition(name, type_)
    assert found is not None, f"no {type_} condition yet"
    return found


def stalled_with(kube: Kube, name: str, reason: str) -> dict[str, Any] | None:
    """The Stalled condition if it is True with ``reason`` (for wait_for)."""
    found = kube.condition(name, "Stalled")
    return found if found and found["status"] == "True" and found["reason"] == reason else None


def ready(kube: Kube, name: str) -> bool:
    cond = kube.condition(name, "Ready")
    return bool(cond and cond["status"] == "True")
