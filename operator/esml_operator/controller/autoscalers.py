"""Which HorizontalPodAutoscalers target each ModelDeployment (for the ``AutoscalerConflict`` condition).

HPAs (KEDA's ScaledObjects create one too) are listed once per namespace and
cached for one TTL, shared by every resource of that namespace. The operator
needs ``list`` on ``autoscaling/horizontalpodautoscalers`` for this; without it
(403) the lookup is skipped, logged once, and no conflict is reported.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence

from esml_operator.kube.api import GROUP, SingleFlightCache
from esml_operator.kube.autoscalers import ScaleTargetRef

logger = logging.getLogger(__name__)

KIND = "ModelDeployment"


def target_of(api_version: str | None, kind: str | None, name: str | None) -> str | None:
    """The ModelDeployment a scaleTargetRef names (any version of esml.io), or None for anything else."""
    if str(api_version or "").split("/", 1)[0] == GROUP and kind == KIND and name:
        return name
    return None


class AutoscalerIndex:
    """``list_targets(namespace)`` lists the namespace's HPAs (``kube.autoscalers.HorizontalPodAutoscalers``)."""

    def __init__(self, list_targets: Callable[[str], Awaitable[Sequence[ScaleTargetRef]]], *, ttl: float) -> None:
        self._list_targets = list_targets
        self._cache = SingleFlightCache(ttl)
        self._warned = False

    async def targeting(self, namespace: str, name: str) -> tuple[str, ...]:
        """The names of the HPAs in ``namespace`` whose scaleTargetRef is ModelDeployment ``name``."""
        by_target = await self._cache.get(namespace, lambda: self._list(namespace))
        return by_target.get(name, ())

    async def _list(self, namespace: str) -> dict[str, tuple[str, ...]]:
        try:
            listed = await self._list_targets(namespace)
        except Exception as error:  # the condition is advice: a failed lookup must not fail the pass
            if not self._warned:
                self._warned = True
                logger.warning(
                    "cannot list HorizontalPodAutoscalers in %s (%s): autoscaler conflicts are not reported "
                    "(the operator needs list on autoscaling/horizontalpodautoscalers)",
                    namespace,
                    getattr(error, "reason", None) or error,
                )
            return {}
        found: dict[str, list[str]] = {}
        for ref in listed:
            target = target_of(ref.api_version, ref.kind, ref.name)
            if target is not None:
                found.setdefault(target, []).append(ref.autoscaler)
        return {target: tuple(sorted(names)) for target, names in found.items()}
