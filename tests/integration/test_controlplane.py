"""The harness itself: versions, kubectl, CRDs, RBAC, strict TLS, and no orphans."""

from __future__ import annotations

import json
import os
import signal
import ssl
import subprocess
import sys
import textwrap
import urllib.request
from pathlib import Path

import pytest
import yaml

from harness.polling import wait_for
from harness.runner import REPO, ControlPlane, strict_context


def pinned_kubernetes() -> str:
    for line in (REPO / "harness/versions.env").read_text().splitlines():
        if line.startswith("KUBERNETES="):
            return "v" + line.split("=", 1)[1].strip()
    raise AssertionError("versions.env has no KUBERNETES line")


def test_server_and_kubectl_report_the_pinned_version(control_plane: ControlPlane) -> None:
    version = json.loads(control_plane.kubectl("version", "-o", "json").stdout)
    assert version["serverVersion"]["gitVersion"] == pinned_kubernetes()
    assert version["clientVersion"]["gitVersion"] == pinned_kubernetes()
    assert version["serverVersion"]["gitTreeState"] == "clean"


def test_kubectl_apply_get_delete(control_plane: ControlPlane, namespace: str) -> None:
    manifest = yaml.safe_dump(
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "probe"}, "data": {"k": "v1"}}
    )
    control_plane.kubectl("apply", "-n", namespace, "-f", "-", input=manifest)
    got = json.loads(control_plane.kubectl("get", "-n", namespace, "configmap/probe", "-o", "json").stdout)
    assert got["data"] == {"k": "v1"}
    control_plane.kubectl("delete", "-n", namespace, "configmap/probe")
    missing = control_plane.kubectl("get", "-n", namespace, "configmap/probe", check=False)
    assert missing.returncode != 0
    assert "NotFound" in missing.stderr


def test_every_crd_in_crds_is_established(control_plane: ControlPlane) -> None:
    names = [
        doc["metadata"]["name"]
        for f in sorted((REPO / "crds").glob("*.yaml"))
        for doc in yaml.safe_load_all(f.read_text())
        if doc and doc.get("kind") == "CustomResourceDefinition"
    ]
    assert names, "crds/ holds no CustomResourceDefinition"
    for name in names:
        crd = json.loads(control_plane.kubectl("get", f"crd/{name}", "-o", "json").stdout)
        conditions = {c["type"]: c["status"] for c in crd["status"]["conditions"]}
        assert conditions.get("Established") == "True", (name, conditions)


def test_rbac_denies_a_non_admin_identity_until_granted(control_plane: ControlPlane, namespace: str) -> None:
    alice = control_plane.kubeconfig_for("alice")
    denied = control_plane.kubectl("get", "configmaps", "-n", namespace, kubeconfig=alice, check=False)
    assert denied.returncode != 0
    assert "Forbidden" in denied.stderr and 'User "alice"' in denied.stderr

    control_plane.kubectl("create", "role", "cm-reader", "-n", namespace, "--verb=get,list", "--resource=configmaps")
    control_plane.kubectl("create", "rolebinding", "alice-cm", "-n", namespace, "--role=cm-reader", "--user=alice")
    allowed = control_plane.kubectl("get", "configmaps", "-n", namespace, kubeconfig=alice, check=False)
    assert allowed.returncode == 0, allowed.stderr
    # Still denied elsewhere: the grant is namespaced.
    other = control_plane.kubectl("get", "secrets", "-n", namespace, kubeconfig=alice, check=False)
    assert "Forbidden" in other.stderr


def test_certificates_pass_strict_x509_verification(control_plane: ControlPlane) -> None:
    ctx = strict_context(control_plane.ca.cert, control_plane.admin_cert.cert, control_plane.admin_cert.key)
    assert ctx.verify_flags & ssl.VERIFY_X509_STRICT
    with urllib.request.urlopen(f"{control_plane.server}/readyz", context=ctx, timeout=5) as resp:  # noqa: S310
        assert resp.read() == b"ok"
    # And through the official kubernetes client.
    import kubernetes

    api = kubernetes.client.CoreV1Api(control_plane.api_client())
    assert api.read_namespace("default").metadata.name == "default"


def _pids_alive(pids: list[int]) -> list[int]:
    alive = []
    for pid in pids:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().split()[2]
        except OSError:
            continue
        if state != "Z":
            alive.append(pid)
    return alive


def _wait_dead(pids: list[int], what: str) -> None:
    wait_for(lambda: not _pids_alive(pids), timeout=30, interval=0.1, what=f"{what} (pids {pids})")


def test_a_crashed_detached_plane_is_replaced_by_the_next_start(tmp_path: Path) -> None:
    first = ControlPlane(tmp_path / "state", crds_dir=None)
    first.start(detach=True)
    pids = [p.pid for p in first.processes]
    assert len(_pids_alive(pids)) == 2
    # Simulate a crash of the owner: forget the object, keep the processes and pid files.
    second = ControlPlane(tmp_path / "state", crds_dir=None)
    try:
        second.start(detach=True)
        _wait_dead(pids, "the crashed plane's etcd and kube-apiserver to be replaced")
        assert second.kubectl("get", "ns", "default").returncode == 0
    finally:
        second.cleanup()
    _wait_dead([p.pid for p in second.processes] + pids, "cleanup to stop both planes")


def test_children_die_when_the_test_process_is_killed(tmp_path: Path) -> None:
    script = textwrap.dedent(
        f"""
        import json, sys, time
        sys.path.insert(0, {str(REPO)!r})
        from pathlib import Path
        from harness.runner import ControlPlane
        plane = ControlPlane(Path({str(tmp_path / "state")!r}), crds_dir=None)
        plane.start()
        print(json.dumps([p.pid for p in plane.processes]), flush=True)
        time.sleep(600)
        """
    )
    owner = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        assert owner.stdout is not None
        pids = json.loads(owner.stdout.readline())
        assert len(_pids_alive(pids)) == 2
        os.kill(owner.pid, signal.SIGKILL)
        owner.wait(timeout=10)
        _wait_dead(pids, "etcd and kube-apiserver to die with their SIGKILLed owner")
    finally:
        if owner.poll() is None:
            owner.kill()
            owner.wait()


@pytest.mark.parametrize("target", ["cluster-up"])
def test_make_cluster_up_and_down(target: str, tmp_path: Path) -> None:
    env = {
        **os.environ,
        "ESML_CLUSTER_DIR": str(tmp_path / "cluster"),
        "ESML_KUBECONFIG": str(tmp_path / "kc"),
    }
    up = subprocess.run(["make", "-s", "cluster-up"], cwd=REPO, env=env, capture_output=True, text=True)
    try:
        assert up.returncode == 0, up.stderr
        assert f"export KUBECONFIG={tmp_path / 'kc'}" in up.stdout
        pids = [int(p.read_text().split()[0]) for p in (tmp_path / "cluster").glob("*.pid")]
        assert len(pids) == 2
        got = subprocess.run(
            [str(REPO / ".local/bin/kubectl"), f"--kubeconfig={tmp_path / 'kc'}", "get", "ns"],
            capture_output=True,
            text=True,
            check=False,
        )
        assert got.returncode == 0 and "default" in got.stdout, got.stderr
    finally:
        down = subprocess.run(["make", "-s", "cluster-down"], cwd=REPO, env=env, capture_output=True, text=True)
    assert down.returncode == 0, down.stderr
    _wait_dead(pids, "make cluster-down to stop etcd and kube-apiserver")
