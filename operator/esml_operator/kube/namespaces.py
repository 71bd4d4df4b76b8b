"""Whether a namespace exists (the start-up check of the Lease's namespace)."""

from __future__ import annotations

from typing import Any

from esml_operator.kube import rest


async def namespace_exists(api_client: Any, name: str, *, request_timeout: float) -> bool:
    """``False`` on 404; any other failure is the :class:`esml_operator.kube.errors.KubeError` for it."""
    found = await rest.read_unless_missing(
        f"reading namespace {name}",
        api_client,
        rest.path("api", "v1", "namespaces", name),
        request_timeout=request_timeout,
    )
    return found is not None
