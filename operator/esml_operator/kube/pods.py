"""Labelling a pod (the leader's ``esml.io/leader`` label, which the external metrics API's Service selects)."""

from __future__ import annotations

import asyncio
from typing import Any

import kubernetes


class PodLabels:
    """Merge-patches labels of pods; errors propagate to the caller."""

    def __init__(self, api_client: Any) -> None:
        self._core = kubernetes.client.CoreV1Api(api_client)

    async def set(self, namespace: str, pod: str, labels: dict[str, str]) -> None:
        body = {"metadata": {"labels": labels}}
        await asyncio.to_thread(self._core.patch_namespaced_pod, pod, namespace, body)
