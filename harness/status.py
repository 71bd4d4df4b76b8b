"""What a ModelDeployment's status says, read the same way by tests, the demo and the benchmark."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def is_ready(obj: Mapping[str, Any], want: str = "True") -> bool:
    """Whether the resource's Ready condition has the status ``want``."""
    status = obj.get("status") or {}
    return any(c.get("type") == "Ready" and c.get("status") == want for c in status.get("conditions", []))


def converged(obj: Mapping[str, Any], allocations: int) -> dict[str, Any] | None:
    """The status once it reports ``allocations`` fully allocated for the current generation, with Ready True."""
    status: dict[str, Any] = obj.get("status") or {}
    if status.get("observedGeneration") != obj["metadata"]["generation"]:
        return None
    if status.get("allocations") != allocations or status.get("allocationState") != "fully_allocated":
        return None
    return status if is_ready(obj) else None
