"""The operator's one asynchronous Kubernetes client (``kubernetes.aio``) and the precedence it shares with kopf.

Where the connection comes from (:func:`connection_source`): ``--kubeconfig``, else the pod's service
account (its token file), else ``KUBECONFIG`` / ``~/.kube/config``. kopf's login (manager/registration.py)
and this client both follow it, so the watch and the operator's own calls always reach the same API
server: in a pod, at the address ``KUBERNETES_SERVICE_HOST``/``_PORT`` name, else at
``kubernetes.default.svc:443`` (kopf's and client-go's fallback).

Every request has a timeout (``--kube-request-timeout`` unless the call names a
shorter one): without it ``kubernetes.aio`` waits five minutes. aiohttp's
``trust_env`` is off: with it on, aiohttp looks up ``~/.netrc`` and the proxy
variables in a thread on every request (about 1 CPU-second per 1,000 calls; see
docs/reference/kubernetes-client.md). The operator talks to the API server it
is configured for, never through a proxy taken from the environment.
"""

from __future__ import annotations

import enum
import logging
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from kubernetes.aio import client, config
from kubernetes.aio.config.incluster_config import InClusterConfigLoader

from esml_operator.settings import Settings

SESSION_KWARGS: dict[str, Any] = {"trust_env": False}
#: Where the kubelet mounts a pod's service account (token, ca.crt, namespace); kopf reads the same path.
SERVICE_ACCOUNT = Path("/var/run/secrets/kubernetes.io/serviceaccount")
HOST, PORT = "KUBERNETES_SERVICE_HOST", "KUBERNETES_SERVICE_PORT"
#: The API server's address when the pod's environment names none (cluster DNS; kopf's login uses it).
CLUSTER_SERVICE = {HOST: "kubernetes.default.svc", PORT: "443"}


class Source(enum.Enum):
    """Where the connection to the API server comes from, in the order they are tried."""

    KUBECONFIG = "the kubeconfig given by --kubeconfig"
    SERVICE_ACCOUNT = "the pod's service account"
    DEFAULT_KUBECONFIG = "KUBECONFIG or ~/.kube/config"


def connection_source(kubeconfig: str | None, service_account: Path | None = None) -> Source:
    """``--kubeconfig``, else the service account when its token file exists, else the default kubeconfig."""
    if kubeconfig:
        return Source.KUBECONFIG
    if ((service_account or SERVICE_ACCOUNT) / "token").is_file():
        return Source.SERVICE_ACCOUNT
    return Source.DEFAULT_KUBECONFIG


def service_url(environ: Mapping[str, str]) -> str | None:
    """``https://host:port`` from ``KUBERNETES_SERVICE_HOST``/``_PORT`` (an IPv6 host in brackets), else None."""
    host = environ.get(HOST, "").strip()
    port = environ.get(PORT, "").strip()
    if not host or not port:
        return None
    return f"https://[{host}]:{port}" if ":" in host else f"https://{host}:{port}"


def _service_environ(environ: Mapping[str, str]) -> dict[str, str]:
    if service_url(environ) is None:
        return dict(CLUSTER_SERVICE)
    return {HOST: environ[HOST].strip(), PORT: environ[PORT].strip()}


def _not_the_missing_file(record: logging.LogRecord) -> bool:
    return not record.getMessage().startswith("Config not found")


# kubernetes.aio logs "Config not found" just before raising the ConfigException that says the same; the start-up
# check (manager/preflight.py) turns that exception into its one line, so the warning would be a second.
logging.getLogger("kubernetes.aio.config.kube_config").addFilter(_not_the_missing_file)


class ApiClient(client.ApiClient):
    """``kubernetes.aio.client.ApiClient`` whose every request times out after ``request_timeout`` seconds."""

    def __init__(self, configuration: Any, *, request_timeout: float) -> None:
        configuration.client_session_kwargs = {**(configuration.client_session_kwargs or {}), **SESSION_KWARGS}
        super().__init__(configuration)
        self.request_timeout = request_timeout

    async def close(self) -> None:
        """Close the connection pool (the generated method is untyped)."""
        await super().close()  # type: ignore[no-untyped-call]

    async def call_api(
        self,
        method: str,
        url: str,
        header_params: Any = None,
        body: Any = None,
        post_params: Any = None,
        _request_timeout: Any = None,
        _preload_content: bool = True,
    ) -> Any:
        timeout = _request_timeout or self.request_timeout
        return await super().call_api(method, url, header_params, body, post_params, timeout, _preload_content)


async def load_api_client(
    settings: Settings, *, environ: Mapping[str, str] | None = None, service_account: Path | None = None
) -> ApiClient:
    """A client from :func:`connection_source`'s choice (a broken choice raises ``ConfigException``)."""
    configuration = client.Configuration()
    account = service_account or SERVICE_ACCOUNT
    source = connection_source(settings.kubeconfig, account)
    if source is Source.KUBECONFIG:
        await config.load_kube_config(config_file=settings.kubeconfig, client_configuration=configuration)  # type: ignore[no-untyped-call]
    elif source is Source.SERVICE_ACCOUNT:
        loader = InClusterConfigLoader(  # type: ignore[no-untyped-call]
            token_filename=str(account / "token"),
            cert_filename=str(account / "ca.crt"),
            environ=_service_environ(os.environ if environ is None else environ),
        )
        loader.load_and_set(configuration)  # type: ignore[no-untyped-call]
    else:
        await config.load_kube_config(client_configuration=configuration)  # type: ignore[no-untyped-call]
    return ApiClient(configuration, request_timeout=settings.kube_request_timeout)
