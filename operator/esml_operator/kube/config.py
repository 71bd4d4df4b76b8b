"""The operator's one asynchronous Kubernetes client (``kubernetes.aio``), with the same precedence as kopf's login.

Every request has a timeout (``--kube-request-timeout`` unless the call names a
shorter one): without it ``kubernetes.aio`` waits five minutes. aiohttp's
``trust_env`` is off: with it on, aiohttp looks up ``~/.netrc`` and the proxy
variables in a thread on every request (about 1 CPU-second per 1,000 calls; see
docs/reference/kubernetes-client.md). The operator talks to the API server it
is configured for, never through a proxy taken from the environment.
"""

from __future__ import annotations

import logging
from typing import Any

from kubernetes.aio import client, config

from esml_operator.settings import Settings

SESSION_KWARGS: dict[str, Any] = {"trust_env": False}


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


async def load_api_client(settings: Settings) -> ApiClient:
    """The configured kubeconfig, else in-cluster, else the default kubeconfig (``KUBECONFIG`` or ~/.kube/config)."""
    configuration = client.Configuration()
    if settings.kubeconfig:
        await config.load_kube_config(config_file=settings.kubeconfig, client_configuration=configuration)  # type: ignore[no-untyped-call]
    else:
        try:
            config.load_incluster_config(client_configuration=configuration)  # type: ignore[no-untyped-call]
        except config.ConfigException:
            await config.load_kube_config(client_configuration=configuration)  # type: ignore[no-untyped-call]
    return ApiClient(configuration, request_timeout=settings.kube_request_timeout)
