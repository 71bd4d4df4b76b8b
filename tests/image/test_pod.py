"""The image run as the install's Deployment runs it, against the real API server and the simulator.

The install's RBAC (the kustomize render of ``manifests/``, applied as is) is all the operator
gets: a token for its ServiceAccount from the TokenRequest API, the cluster CA and the namespace
are mounted where a kubelet mounts them, and ``KUBERNETES_SERVICE_HOST``/``_PORT`` name the test
API server (its serving certificate covers 127.0.0.1). The container has a read-only root, uid and
gid 65532, no capabilities, no privilege escalation, the manifest's memory limit and a tmpfs /tmp
of the emptyDir's size (tests/image/container.py).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import httpx
import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from harness.polling import wait_for
from harness.runner import ControlPlane, free_port
from harness.status import converged
from tests.e2e.conftest import Kube, model_deployment
from tests.e2e.test_lifecycle import es_deployment, updates
from tests.image.container import SERVICE_ACCOUNT_DIR, Container, PodSpec, require_image
from tests.support.dockerfile import REPO
from tests.support.simulator import SimulatorProcess

pytestmark = [pytest.mark.image, pytest.mark.cluster, pytest.mark.timeout(600)]

START_TIMEOUT = 120.0  # a loaded machine: the interpreter, kopf's login, the first Lease round


@dataclass
class Pod:
    container: Container
    spec: PodSpec
    name: str
    namespace: str
    lease: str
    health: str
    metrics: str
    token: str


def installed(control_plane: ControlPlane) -> list[dict[str, Any]]:
    """Apply ``kubectl kustomize manifests/`` as is (no controller runs its Deployment here)."""
    render = control_plane.kubectl("kustomize", str(REPO / "manifests")).stdout
    control_plane.kubectl("apply", "--server-side", "--force-conflicts", "-f", "-", input=render)
    return [doc for doc in yaml.safe_load_all(render) if doc]


def one(docs: list[dict[str, Any]], kind: str) -> dict[str, Any]:
    (found,) = [doc for doc in docs if doc["kind"] == kind]
    return found


def service_account_volume(control_plane: ControlPlane, account: dict[str, Any], directory: Path) -> str:
    """token (TokenRequest API), ca.crt and namespace, as a kubelet projects them; returns the token."""
    name, namespace = account["metadata"]["name"], account["metadata"]["namespace"]
    token = control_plane.kubectl("create", "token", name, "-n", namespace, "--duration=1h").stdout.strip()
    directory.mkdir(mode=0o755)
    for file, content in {
        "token": token,
        "ca.crt": control_plane.ca.cert.read_text(),
        "namespace": namespace,
    }.items():
        (directory / file).write_text(content)
        (directory / file).chmod(0o644)
    return token


def lease_holder(control_plane: ControlPlane, namespace: str, name: str) -> str:
    proc = control_plane.kubectl("get", "lease", name, "-n", namespace, "-o", "json", check=False)
    if proc.returncode != 0:
        return ""
    return str(json.loads(proc.stdout)["spec"].get("holderIdentity") or "")


@pytest.fixture(scope="module")
def pod(control_plane: ControlPlane, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pod]:
    image = require_image()
    docs = installed(control_plane)
    deployment = one(docs, "Deployment")
    spec = PodSpec.from_deployment(deployment)
    namespace = deployment["metadata"]["namespace"]
    sa_dir = tmp_path_factory.mktemp("serviceaccount") / "sa"
    token = service_account_volume(control_plane, one(docs, "ServiceAccount"), sa_dir)
    name = f"esml-operator-{uuid.uuid4().hex[:10]}-image"
    downward = {"metadata.name": name, "metadata.namespace": namespace}
    api = urlparse(control_plane.server)
    health = f"http://127.0.0.1:{free_port()}/healthz"
    metrics = f"http://127.0.0.1:{free_port()}/metrics"
    env = {variable: downward[path] for variable, path in spec.downward.items()} | {
        "KUBERNETES_SERVICE_HOST": str(api.hostname),
        "KUBERNETES_SERVICE_PORT": str(api.port),
        # Host network on a shared machine: free ports instead of the manifest's 8080 and 8081.
        "ESML_LIVENESS_ENDPOINT": health,
        "ESML_METRICS_ENDPOINT": metrics,
    }
    container = Container(spec, image, env, {sa_dir: SERVICE_ACCOUNT_DIR})
    try:
        yield Pod(container, spec, name, namespace, "esml-operator", health, metrics, token)
    finally:
        logs = container.logs()
        container.remove()
        print(f"--- container {container.name} log:\n{logs}")


def wait_for_leader(pod: Pod, control_plane: ControlPlane) -> None:
    def leading() -> bool:
        assert pod.container.running(), f"the container exited:\n{pod.container.logs()}"
        return lease_holder(control_plane, pod.namespace, pod.lease) == pod.name

    wait_for(leading, timeout=START_TIMEOUT, what=f"{pod.name} to hold Lease {pod.namespace}/{pod.lease}")


def test_holds_the_lease_and_serves_healthz_and_metrics(pod: Pod, control_plane: ControlPlane) -> None:
    wait_for_leader(pod, control_plane)
    health = wait_for(lambda: httpx.get(pod.health, timeout=5), timeout=START_TIMEOUT, what="/healthz")
    assert health.status_code == 200
    metrics = httpx.get(pod.metrics, timeout=5)
    assert metrics.status_code == 200
    samples = {s.name: s.value for family in text_string_to_metric_families(metrics.text) for s in family.samples}
    assert samples["esml_leader_election_leader"] == 1
    # The manifest's memory limit, as the operator reads it from its own cgroup.
    assert samples["esml_process_memory_limit_bytes"] == pod.spec.memory
    logs = pod.container.logs()
    assert "Read-only file system" not in logs, logs
    assert pod.token not in logs


def test_reconciles_start_and_a_scale_change(
    pod: Pod,
    control_plane: ControlPlane,
    kube: Kube,
    simulator: SimulatorProcess,
    es_url: str,
    es_secrets: dict[str, str],
) -> None:
    wait_for_leader(pod, control_plane)
    kube.apply(model_deployment("ner", es_url, allocations=1))
    wait_for(lambda: converged(kube.mdep("ner"), 1), timeout=START_TIMEOUT, what="1 allocation, Ready")
    assert len(simulator.requests("/deployment/_start", method="POST")) == 1
    kube.kubectl("scale", "mdep/ner", "--replicas=3")
    wait_for(lambda: converged(kube.mdep("ner"), 3), timeout=START_TIMEOUT, what="3 allocations, Ready")
    assert [r["body"] for r in updates(simulator)] == [{"number_of_allocations": 3}]
    assert es_deployment(simulator)["allocation_status"]["allocation_count"] == 3
    assert "Read-only file system" not in pod.container.logs()


def test_sigterm_releases_the_lease_and_exits_within_the_grace_period(pod: Pod, control_plane: ControlPlane) -> None:
    wait_for_leader(pod, control_plane)
    elapsed, exit_code = pod.container.stop()
    logs = pod.container.logs()
    print(f"SIGTERM to exit: {elapsed:.1f} s (grace period {pod.spec.grace} s), exit code {exit_code}")
    assert elapsed < pod.spec.grace, f"killed after the grace period ({elapsed:.1f} s):\n{logs}"
    assert exit_code == 0, logs
    assert lease_holder(control_plane, pod.namespace, pod.lease) == "", "the Lease was not released"
    assert "released the Lease" in logs, logs
