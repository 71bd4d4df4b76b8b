"""Labelling a pod (the leader's ``esml.io/leader`` label, which the external metrics API's Service selects)."""

from __future__ import annotations

from typing import Any

from esml_operator.kube import rest


class PodLabels:
    """Merge-patches labels of pods; errors propagate to the caller."""

    def __init__(self, api_client: Any) -> None:
        self._api = api_client

    async def set(self, namespace: str, pod: str, labels: dict[str, str]) -> None:
        resource = rest.path("api", "v1", "namespaces", namespace, "pods", pod)
        body = {"metadata": {"labels": labels}}
        await rest.write(
            f"labelling pod {namespace}/{pod}", self._api, "PATCH", resource, body, content_type=rest.MERGE_PATCH
        )
