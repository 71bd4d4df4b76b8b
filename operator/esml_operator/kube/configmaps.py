"""Reading a ConfigMap's data (kube-apiserver's ``extension-apiserver-authentication``)."""

from __future__ import annotations

from typing import Any

from esml_operator.kube import rest


async def config_map_data(api_client: Any, namespace: str, name: str) -> dict[str, str]:
    """The ConfigMap's ``data`` (empty if it has none); errors propagate to the caller."""
    resource = rest.path("api", "v1", "namespaces", namespace, "configmaps", name)
    configmap = await rest.read(f"reading ConfigMap {namespace}/{name}", api_client, resource)
    return dict(configmap.get("data") or {})
