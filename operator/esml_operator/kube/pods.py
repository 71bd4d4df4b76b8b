"""Labelling a pod (the leader's ``esml.io/leader`` label, which the external metrics API's Service selects)."""

from __future__ import annotations

from typing import Any

from kubernetes.aio import client

from esml_operator.kube.errors import discard


class PodLabels:
    """Merge-patches labels of pods; errors propagate to the caller."""

    def __init__(self, api_client: Any) -> None:
        self._core = client.CoreV1Api(api_client)

    async def set(self, namespace: str, pod: str, labels: dict[str, str]) -> None:
        body = {"metadata": {"labels": labels}}
        request = self._core.patch_namespaced_pod_without_preload_content(pod, namespace, body)
        await discard(f"labelling pod {namespace}/{pod}", request)
