"""One precedence for the API server connection, shared by kopf's login and the operator's own client (issue 19 §1).

``--kubeconfig``, else the pod's service account (its token file), else ``KUBECONFIG`` / ``~/.kube/config``.
Before, the two disagreed in a pod whose environment lacked ``KUBERNETES_SERVICE_HOST``/``_PORT``: kopf logged
in with the service account while the client fell back to a kubeconfig.
"""

from __future__ import annotations

import logging
import shutil
from pathlib import Path
from typing import Any

import kopf
import pytest

from esml_operator.kube import config
from esml_operator.kube.config import Source, connection_source, load_api_client
from esml_operator.manager.registration import build_registry
from esml_operator.settings import Settings
from harness.certs import TinyCA

POD_ENV = {"KUBERNETES_SERVICE_HOST": "10.96.0.1", "KUBERNETES_SERVICE_PORT": "443"}


@pytest.fixture
def account(tmp_path: Path) -> Path:
    """A service account as the kubelet mounts it (token, CA, namespace)."""
    (tmp_path / "token").write_text("t0ken", encoding="utf-8")
    shutil.copy(TinyCA(tmp_path / "pki").cert, tmp_path / "ca.crt")
    (tmp_path / "namespace").write_text("esml-system", encoding="utf-8")
    return tmp_path


def settings(*args: str) -> Settings:
    return Settings.load(["--all-namespaces", *args], environ={})


def test_the_precedence(account: Path, tmp_path: Path) -> None:
    nowhere = tmp_path / "no-account"
    assert connection_source("/k/config", account) is Source.KUBECONFIG
    assert connection_source(None, account) is Source.SERVICE_ACCOUNT
    assert connection_source(None, nowhere) is Source.DEFAULT_KUBECONFIG
    assert connection_source("", nowhere) is Source.DEFAULT_KUBECONFIG


@pytest.mark.parametrize(
    ("environ", "host"),
    [
        (POD_ENV, "https://10.96.0.1:443"),
        ({"KUBERNETES_SERVICE_HOST": "fd00::1", "KUBERNETES_SERVICE_PORT": "6443"}, "https://[fd00::1]:6443"),
        ({}, "https://kubernetes.default.svc:443"),  # kopf's address: the two now agree
        ({"KUBERNETES_SERVICE_HOST": "10.96.0.1"}, "https://kubernetes.default.svc:443"),
    ],
)
async def test_a_pods_client_uses_the_service_account(account: Path, environ: dict[str, str], host: str) -> None:
    api = await load_api_client(settings(), environ=environ, service_account=account)
    try:
        assert api.configuration.host == host
        assert api.configuration.api_key["BearerToken"] == "bearer t0ken"
        assert api.configuration.ssl_ca_cert == str(account / "ca.crt")
    finally:
        await api.close()


async def test_a_kubeconfig_flag_wins_over_the_service_account(account: Path, tmp_path: Path) -> None:
    path = tmp_path / "kubeconfig"
    path.write_text(
        "apiVersion: v1\nkind: Config\ncurrent-context: c\n"
        "clusters: [{name: c, cluster: {server: 'https://elsewhere:6443'}}]\n"
        "users: [{name: u, user: {token: not-a-secret}}]\n"
        "contexts: [{name: c, context: {cluster: c, user: u}}]\n",
        encoding="utf-8",
    )
    api = await load_api_client(settings("--kubeconfig", str(path)), environ=POD_ENV, service_account=account)
    try:
        assert api.configuration.host == "https://elsewhere:6443"
    finally:
        await api.close()


def registered_login() -> Any:
    handlers = build_registry(settings())._activities.get_all_handlers()
    (handler,) = [h for h in handlers if h.activity.name == "AUTHENTICATION"]
    return handler.fn


@pytest.mark.parametrize("in_a_pod", [True, False])
async def test_kopfs_login_follows_the_same_choice(
    monkeypatch: pytest.MonkeyPatch, account: Path, tmp_path: Path, in_a_pod: bool
) -> None:
    """The watch (kopf's login) and the operator's client connect from the same source, in a pod and out."""
    monkeypatch.setattr(config, "SERVICE_ACCOUNT", account if in_a_pod else tmp_path / "no-account")
    via_account = kopf.ConnectionInfo(server="https://kubernetes.default.svc", token="t0ken")
    via_kubeconfig = kopf.ConnectionInfo(server="https://laptop:6443", token="other")
    monkeypatch.setattr(kopf, "login_with_service_account", lambda **_: via_account)
    monkeypatch.setattr(kopf, "login_with_kubeconfig", lambda **_: via_kubeconfig)
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    monkeypatch.delenv("KUBERNETES_SERVICE_PORT", raising=False)
    info = registered_login()(settings=kopf.OperatorSettings(), logger=logging.getLogger("test"))
    assert info == (via_account if in_a_pod else via_kubeconfig)
    assert connection_source(None) is (Source.SERVICE_ACCOUNT if in_a_pod else Source.DEFAULT_KUBECONFIG)
    if in_a_pod:  # the client reaches the address kopf's login uses
        api = await load_api_client(settings(), environ={})
        try:
            assert api.configuration.host == "https://kubernetes.default.svc:443"
        finally:
            await api.close()
