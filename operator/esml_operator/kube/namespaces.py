"""Whether a namespace exists (the start-up check of the Lease's namespace)."""

from __future__ import annotations

from typing import Any

import kubernetes


class NamespaceUnknown(Exception):
    """The API server answered, but not whether the namespace exists (for example 403); the message says how."""


def namespace_exists(api_client: Any, name: str, *, timeout: float) -> bool:
    """``False`` on 404; :class:`NamespaceUnknown` for another API error; transport errors propagate."""
    core = kubernetes.client.CoreV1Api(api_client)
    try:
        core.read_namespace(name, _request_timeout=timeout)
    except kubernetes.client.ApiException as error:
        if error.status == 404:
            return False
        raise NamespaceUnknown(f"HTTP {error.status} {error.reason or ''}".strip()) from None
    return True
