"""The Lease's namespace is checked against the real kube-apiserver before the operator starts (issue 17).

Outside a cluster the Lease defaults to the install's namespace, so a local run
and an installed Deployment elect one leader. A namespace that certainly does
not exist stops the start with one line and exit status 2; an API server that
cannot say (no permission to read namespaces) lets it go on.
"""

from __future__ import annotations

import logging
import subprocess
import uuid

import pytest

from esml_operator.leaderelection.elector import lease_namespace
from esml_operator.manager import preflight
from esml_operator.settings import Settings
from harness.commands import OPERATOR
from harness.runner import ControlPlane
from tests.integration.kube_client import operator_client

TIMEOUT = 120.0  # generous: the machine is shared; the command ends in seconds


def _absent() -> str:
    return f"absent-{uuid.uuid4().hex[:10]}"


def _settings(plane: ControlPlane, lease_namespace: str = "") -> Settings:
    return Settings(namespaces=("ml",), kubeconfig=str(plane.kubeconfig), lease_namespace=lease_namespace)


def test_an_existing_lease_namespace_passes(control_plane: ControlPlane, namespace: str) -> None:
    preflight.check(_settings(control_plane, namespace), environ={})


async def test_the_default_outside_a_cluster_must_exist(control_plane: ControlPlane) -> None:
    """The default's own message: the install's namespace, and every way out."""
    settings = _settings(control_plane)
    default = lease_namespace("", environ={})
    missing = type(default)(_absent(), default.source, in_cluster=False)  # esml-system may exist on this server
    client = await operator_client(control_plane.kubeconfig)
    try:
        with pytest.raises(preflight.StartupError) as info:
            await preflight.check_lease_namespace(settings, client, missing)
    finally:
        await client.close()
    message = str(info.value)
    assert f"namespace {missing.name!r} (the install's namespace, the default outside a cluster) does not exist" in (
        message
    )
    for way_out in (f"kubectl create namespace {missing.name}", "--lease-namespace", "--no-leader-election"):
        assert way_out in message


def test_a_missing_lease_namespace_stops_the_command(control_plane: ControlPlane) -> None:
    absent = _absent()
    argv = [*OPERATOR, "run", "--namespace", "ml", "--liveness-endpoint="]
    argv += ["--metrics-endpoint=", "--kubeconfig", str(control_plane.kubeconfig), "--lease-namespace", absent]
    result = subprocess.run(argv, capture_output=True, text=True, timeout=TIMEOUT, check=False)
    assert result.returncode == 2, result.stderr
    lines = [line for line in result.stderr.splitlines() if "esml-operator run: error:" in line]
    assert lines == [
        f"esml-operator run: error: --lease-namespace {absent!r}: there is no such namespace, "
        "so the leader-election Lease cannot be created; "
        f"create it (kubectl create namespace {absent}) or name another"
    ], result.stderr
    assert "Traceback" not in result.stderr


def test_no_permission_to_read_namespaces_lets_the_start_go_on(
    control_plane: ControlPlane, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger=preflight.__name__)
    nobody = control_plane.kubeconfig_for(f"nobody-{uuid.uuid4().hex[:6]}")
    settings = Settings(namespaces=("ml",), kubeconfig=str(nobody), lease_namespace=_absent())
    preflight.check(settings, environ={})
    (warning,) = [r.getMessage() for r in caplog.records if r.name == preflight.__name__]
    assert "HTTP 403" in warning and "starting anyway" in warning
