"""Reading a ConfigMap's data (kube-apiserver's ``extension-apiserver-authentication``)."""

from __future__ import annotations

import asyncio
from typing import Any

import kubernetes


async def config_map_data(api_client: Any, namespace: str, name: str) -> dict[str, str]:
    """The ConfigMap's ``data`` (empty if it has none); errors propagate to the caller."""
    core = kubernetes.client.CoreV1Api(api_client)
    configmap = await asyncio.to_thread(core.read_namespaced_config_map, name, namespace)
    return dict(configmap.data or {})
