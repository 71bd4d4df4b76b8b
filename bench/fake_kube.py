"""An in-memory stand-in for handlers.kube.KubeApi: counts status writes and events."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


class FakeKube:
    def __init__(self) -> None:
        self.status: dict[tuple[str, str], dict[str, Any]] = {}
        self.status_writes = 0
        self.events = 0

    async def read_secret(self, namespace: str, name: str, *, fresh: bool = False) -> None:
        return None

    def forget_secret(self, namespace: str, name: str) -> None:
        pass

    async def read_service_port(self, namespace: str, name: str) -> int | None:
        return None

    async def patch_status(self, namespace: str, name: str, status: Mapping[str, Any]) -> None:
        self.status_writes += 1
        current = self.status.setdefault((namespace, name), {})
        for key, value in status.items():
            if value is None:
                current.pop(key, None)
            else:
                current[key] = value

    async def post_event(self, body: Mapping[str, Any], *, type: str, reason: str, message: str) -> None:
        self.events += 1

    async def aclose(self) -> None:
        pass

    def ready(self) -> int:
        return sum(
            1
            for status in self.status.values()
            for cond in status.get("conditions", [])
            if cond["type"] == "Ready" and cond["status"] == "True"
        )
