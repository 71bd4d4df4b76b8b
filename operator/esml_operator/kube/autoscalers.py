"""Listing HorizontalPodAutoscalers (``autoscaling/v2``), for the autoscaler index in the controller."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from esml_operator.kube import rest


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
        self._api = api_client

    async def scale_targets(self, namespace: str) -> list[ScaleTargetRef]:
        resource = rest.path("apis", "autoscaling", "v2", "namespaces", namespace, "horizontalpodautoscalers")
        listed = await rest.read(f"listing HorizontalPodAutoscalers in {namespace}", self._api, resource)
        found: list[ScaleTargetRef] = []
        for hpa in listed.get("items") or []:
            ref = (hpa.get("spec") or {}).get("scaleTargetRef") or {}
            name = str((hpa.get("metadata") or {}).get("name") or "")
            found.append(ScaleTargetRef(name, ref.get("apiVersion"), ref.get("kind"), ref.get("name")))
        return found
