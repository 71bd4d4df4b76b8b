"""Injected faults: per endpoint latency, error status, connection reset or hang."""

from __future__ import annotations

import asyncio
import itertools
from dataclasses import dataclass, field
from typing import Any

ENDPOINTS = frozenset(
    {
        "any",
        "info",
        "get_models",
        "put_model",
        "delete_model",
        "put_definition",
        "put_vocabulary",
        "start",
        "update",
        "stop",
        "stats",
        "ml_info",
        "memory_stats",
        "api_key",
        "authenticate",
        "pipeline",
        "put_inference",
        "get_inference",
        "delete_inference",
        "update_inference",
        "inference",
    }
)
KINDS = frozenset({"latency", "status", "reset", "hang"})
DEFAULT_TYPES = {
    429: "es_rejected_execution_exception",
    500: "exception",
    502: "exception",
    503: "unavailable_shards_exception",
    504: "exception",
}

_ids = itertools.count(1)


@dataclass
class Fault:
    endpoint: str
    kind: str
    status: int = 503
    retry_after: int | None = None
    latency: float = 0.0
    count: int | None = None
    error_type: str | None = None
    reason: str | None = None
    id: int = field(default_factory=lambda: next(_ids))
    hits: int = 0

    def describe(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "endpoint": self.endpoint,
            "kind": self.kind,
            "status": self.status,
            "retry_after": self.retry_after,
            "latency": self.latency,
            "count": self.count,
            "error_type": self.error_type,
            "reason": self.reason,
            "hits": self.hits,
        }

    def body(self) -> dict[str, Any]:
        error_type = self.error_type or DEFAULT_TYPES.get(self.status, "status_exception")
        reason = self.reason or f"simulated fault: HTTP {self.status}"
        own = {"type": error_type, "reason": reason}
        return {"error": {"root_cause": [own], **own}, "status": self.status}


def make_fault(spec: dict[str, Any]) -> Fault:
    endpoint = str(spec.get("endpoint", "any"))
    kind = str(spec.get("kind", "status"))
    if endpoint not in ENDPOINTS:
        raise ValueError(f"unknown endpoint {endpoint!r}; expected one of {sorted(ENDPOINTS)}")
    if kind not in KINDS:
        raise ValueError(f"unknown fault kind {kind!r}; expected one of {sorted(KINDS)}")
    count = spec.get("count")
    retry_after = spec.get("retry_after")
    return Fault(
        endpoint=endpoint,
        kind=kind,
        status=int(spec.get("status", 429 if retry_after is not None else 503)),
        retry_after=None if retry_after is None else int(retry_after),
        latency=float(spec.get("latency", spec.get("seconds", 0.0)) or 0.0),
        count=None if count is None else int(count),
        error_type=spec.get("error_type"),
        reason=spec.get("reason"),
    )


class Faults:
    def __init__(self) -> None:
        self.active: list[Fault] = []
        self._release = asyncio.Event()

    def add(self, fault: Fault) -> Fault:
        self.active.append(fault)
        self._release = asyncio.Event() if self._release.is_set() else self._release
        return fault

    def clear(self, fault_id: int | None = None) -> None:
        if fault_id is None:
            self.active.clear()
        else:
            self.active = [f for f in self.active if f.id != fault_id]
        if not any(f.kind == "hang" for f in self.active):
            self._release.set()

    def take(self, endpoint: str) -> list[Fault]:
        """The faults that apply to this request (consuming one use of counted faults)."""
        hit = [f for f in self.active if f.endpoint in (endpoint, "any")]
        for fault in hit:
            fault.hits += 1
            if fault.count is not None and fault.hits >= fault.count:
                self.active.remove(fault)
        return hit

    async def hang(self) -> None:
        if self._release.is_set():
            self._release = asyncio.Event()
        await self._release.wait()

    def release_all(self) -> None:
        self._release.set()
