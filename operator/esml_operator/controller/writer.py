"""Status and events: written only when they say something new, and only by the leader."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from esml_operator.controller.fence import Fence
from esml_operator.controller.memory import Entry, wrote
from esml_operator.controller.poster import EventPoster
from esml_operator.kube.api import KubeApi
from esml_operator.reconcile import Event
from esml_operator.reconcile.timeutil import parse_time

logger = logging.getLogger(__name__)


def worth_writing(status: Mapping[str, Any], previous: Mapping[str, Any], now: datetime, heartbeat: float) -> bool:
    """Write when anything but ``lastSyncTime`` changed, or (with a ``heartbeat`` > 0) when the stored one is
    older than ``heartbeat``.

    So a steady resource costs no write at all by default (not one per poll), and a restarted operator
    rewrites nothing that did not change.
    """
    if status == previous:
        return False
    if {k: v for k, v in status.items() if k != "lastSyncTime"} != {
        k: v for k, v in previous.items() if k != "lastSyncTime"
    }:
        return True
    if heartbeat <= 0:
        return False
    stored = parse_time(previous.get("lastSyncTime"))
    return stored is None or (now - stored).total_seconds() >= heartbeat


class StatusWriter:
    """Status patches and Events, each sent through the :class:`~.fence.Fence` (a deposed leader's raise
    :class:`~.fence.Deposed`). Events go out after the pass, through :attr:`events` (:mod:`.poster`)."""

    def __init__(self, kube: KubeApi, *, heartbeat: float, fence: Fence) -> None:
        self._kube, self._heartbeat, self.fence = kube, heartbeat, fence
        self.writes = 0  # status patches sent (tests and benchmarks)
        self.events = EventPoster(self._post_event)

    def leading(self) -> bool:
        return self.fence.leading()

    async def write(self, entry: Entry, status: Mapping[str, Any], now: datetime) -> None:
        previous = entry.stored_status
        if not worth_writing(status, previous, now, self._heartbeat):
            return
        removed = {k: None for k in previous if k not in status}
        namespace, name = str(entry.meta.get("namespace")), str(entry.meta.get("name"))
        async with self.fence.send(f"patching status of {namespace}/{name}"):
            await self._kube.patch_status(namespace, name, {**status, **removed})
        wrote(entry, status)
        self.writes += 1

    def post(self, entry: Entry, events: Iterable[Event]) -> None:
        """Queue ``events`` about ``entry`` as the pass saw it; they are posted after the pass, in order."""
        self.events.post(entry.uid, entry.body, tuple(events))

    async def _post_event(self, body: Mapping[str, Any], event: Event) -> None:
        name = f"{(body.get('metadata') or {}).get('namespace')}/{(body.get('metadata') or {}).get('name')}"
        async with self.fence.send(f"posting event {event.reason} for {name}"):
            await self._kube.post_event(body, type=event.type, reason=event.reason, message=event.message)
