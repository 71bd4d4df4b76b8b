"""Listing HorizontalPodAutoscalers (``autoscaling/v2``), for the autoscaler index in the controller."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from kubernetes.aio import client

from esml_operator.kube.errors import call


@dataclass(frozen=True)
class ScaleTargetRef:
    """One HPA's name and the ``scaleTargetRef`` it scales."""

    autoscaler: str
    api_version: str | None
    kind: str | None
    name: str | None


class HorizontalPodAutoscalers:
    """``list`` on ``autoscaling/horizontalpodautoscalers``; errors (a Forbidden among them) propagate to the caller."""

    def __init__(self, api_client: Any) -> None:
        self._api = client.AutoscalingV2Api(api_client)

    async def scale_targets(self, namespace: str) -> list[ScaleTargetRef]:
        listed = await call(
            f"listing HorizontalPodAutoscalers in {namespace}",
            self._api.list_namespaced_horizontal_pod_autoscaler(namespace),
        )
        found: list[ScaleTargetRef] = []
        for hpa in listed.items or []:
            ref = hpa.spec.scale_target_ref
            name = str(hpa.metadata.name if hpa.metadata else "")
            found.append(ScaleTargetRef(name, ref.api_version, ref.kind, ref.name))
        return found
