"""Reading a ConfigMap's data (kube-apiserver's ``extension-apiserver-authentication``)."""

from __future__ import annotations

from typing import Any

from kubernetes.aio import client

from esml_operator.kube.errors import call


async def config_map_data(api_client: Any, namespace: str, name: str) -> dict[str, str]:
    """The ConfigMap's ``data`` (empty if it has none); errors propagate to the caller."""
    core = client.CoreV1Api(api_client)
    configmap = await call(f"reading ConfigMap {namespace}/{name}", core.read_namespaced_config_map(name, namespace))
    return dict(configmap.data or {})
