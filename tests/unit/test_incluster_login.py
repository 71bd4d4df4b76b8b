"""In a pod, kopf's login goes to the API server that KUBERNETES_SERVICE_HOST/_PORT name.

kopf's own service-account login always uses https://kubernetes.default.svc (cluster DNS); the
image run with a test API server (make test-image) found the watch never connecting while the
kubernetes client, which reads the variables, did.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import kopf
import pytest

from esml_operator.kube import config
from esml_operator.kube.config import service_url
from esml_operator.manager.incluster import login_in_cluster
from esml_operator.manager.registration import build_registry
from esml_operator.settings import Settings

SERVICE_ACCOUNT = kopf.ConnectionInfo(
    server="https://kubernetes.default.svc", ca_path="/sa/ca.crt", token="t0ken", default_namespace="esml-system"
)


@pytest.fixture
def in_a_pod(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """kopf finds a service account (its files are at fixed paths in a pod, so the reader is replaced)."""
    (tmp_path / "token").write_text("t0ken", encoding="utf-8")
    monkeypatch.setattr(config, "SERVICE_ACCOUNT", tmp_path)
    monkeypatch.setattr(kopf, "login_with_service_account", lambda **_: SERVICE_ACCOUNT)
    monkeypatch.setenv("KUBERNETES_SERVICE_HOST", "10.96.0.1")
    monkeypatch.setenv("KUBERNETES_SERVICE_PORT", "443")


def registered_login(settings: Settings) -> Any:
    registry = build_registry(settings)
    handlers = registry._activities.get_all_handlers()
    (handler,) = [h for h in handlers if h.activity.name == "AUTHENTICATION"]
    return handler.fn


def test_the_operators_login_uses_the_service_address_from_the_environment(in_a_pod: None) -> None:
    login = registered_login(Settings.load(["--all-namespaces"], environ={}))
    info = login(settings=kopf.OperatorSettings(), logger=logging.getLogger("test"))
    assert info.server == "https://10.96.0.1:443"
    assert (info.token, info.ca_path, info.default_namespace) == ("t0ken", "/sa/ca.crt", "esml-system")


@pytest.mark.parametrize(
    ("environ", "url"),
    [
        ({"KUBERNETES_SERVICE_HOST": "10.96.0.1", "KUBERNETES_SERVICE_PORT": "443"}, "https://10.96.0.1:443"),
        ({"KUBERNETES_SERVICE_HOST": "fd00::1", "KUBERNETES_SERVICE_PORT": "6443"}, "https://[fd00::1]:6443"),
        ({"KUBERNETES_SERVICE_HOST": "10.96.0.1"}, None),
        ({"KUBERNETES_SERVICE_PORT": "443"}, None),
        ({}, None),
    ],
)
def test_service_url(environ: dict[str, str], url: str | None) -> None:
    assert service_url(environ) == url


def test_without_the_variables_kopfs_address_stays(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(kopf, "login_with_service_account", lambda **_: SERVICE_ACCOUNT)
    assert login_in_cluster({}, environ={}) == SERVICE_ACCOUNT


def test_outside_a_pod_there_is_no_service_account_login(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(kopf, "login_with_service_account", lambda **_: None)
    assert login_in_cluster({}, environ={"KUBERNETES_SERVICE_HOST": "h", "KUBERNETES_SERVICE_PORT": "1"}) is None
