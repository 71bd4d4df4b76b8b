"""manifests/examples/keda-scaledobject.yaml against KEDA's own CRDs (server-side dry run).

The CRDs come from KEDA's Go module at the version pinned in harness/versions.env,
fetched by `make controlplane` (harness/build.sh) into .local/keda-crds: never from
the network at test time.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from harness.runner import REPO, ControlPlane

KEDA_CRDS = REPO / ".local" / "keda-crds"
EXAMPLE = REPO / "manifests" / "examples" / "keda-scaledobject.yaml"


@pytest.fixture(scope="module")
def keda_crds(control_plane: ControlPlane) -> Iterator[list[str]]:
    files = sorted(KEDA_CRDS.glob("keda.sh_*.yaml"))
    assert files, f"no KEDA CRDs in {KEDA_CRDS}: run `make controlplane` (harness/build.sh)"
    control_plane.kubectl("apply", "--server-side", *[f"-f={f}" for f in files])
    names = [yaml.safe_load(f.read_text())["metadata"]["name"] for f in files]
    for name in names:
        control_plane.kubectl("wait", "--for=condition=Established", "--timeout=60s", f"crd/{name}")
    yield names
    control_plane.kubectl("delete", "crd", *names, "--wait=false")  # once per session: nothing re-creates them


def pinned_keda() -> str:
    for line in (REPO / "harness" / "versions.env").read_text().splitlines():
        if line.startswith("KEDA="):
            return line.split("=", 1)[1]
    raise AssertionError("versions.env pins no KEDA version")


def test_the_crds_are_kedas_pinned_release(keda_crds: list[str]) -> None:
    assert "scaledobjects.keda.sh" in keda_crds
    target = Path(KEDA_CRDS).resolve()
    assert target.parent.name == f"keda-{pinned_keda()}", target


def test_the_scaled_object_example_passes_a_server_side_dry_run(
    control_plane: ControlPlane, namespace: str, keda_crds: list[str]
) -> None:
    example = yaml.safe_load(EXAMPLE.read_text())
    assert example["spec"]["scaleTargetRef"] == {
        "apiVersion": "esml.io/v1alpha1",
        "kind": "ModelDeployment",
        "name": "ner-english",
    }
    assert example["spec"]["minReplicaCount"] == 0  # scale to zero: numberOfAllocations 0 stops the deployment
    triggers = {t["type"]: t["metadata"] for t in example["spec"]["triggers"]}
    assert "esml_modeldeployment_inference_pending_requests" in triggers["prometheus"]["query"]
    assert set(triggers["cron"]) >= {"timezone", "start", "end", "desiredReplicas"}
    proc = control_plane.kubectl(
        "apply", "--server-side", "--dry-run=server", "-n", namespace, "-f", str(EXAMPLE), check=False
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "scaledobject.keda.sh/ner-english serverside-applied (server dry run)", proc.stdout
    assert "Warning" not in proc.stderr, proc.stderr

    # Control: KEDA's schema is really enforced (a trigger without a type is refused).
    broken = yaml.safe_load(EXAMPLE.read_text())
    del broken["spec"]["triggers"][0]["type"]
    proc = control_plane.kubectl(
        "apply",
        "--server-side",
        "--dry-run=server",
        "-n",
        namespace,
        "-f",
        "-",
        input=yaml.safe_dump(broken),
        check=False,
    )
    assert proc.returncode != 0 and "type" in proc.stderr, proc.stderr
