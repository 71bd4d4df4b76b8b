"""Whether a namespace exists (the start-up check of the Lease's namespace)."""

from __future__ import annotations

from typing import Any

from kubernetes.aio import client

from esml_operator.kube.errors import unless_missing


async def namespace_exists(api_client: Any, name: str, *, request_timeout: float) -> bool:
    """``False`` on 404; any other failure is the :class:`esml_operator.kube.errors.KubeError` for it."""
    core = client.CoreV1Api(api_client)
    found = await unless_missing(
        f"reading namespace {name}", core.read_namespace(name, _request_timeout=float(request_timeout))
    )
    return found is not None
