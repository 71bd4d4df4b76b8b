"""The resources the operator knows, as the watch last delivered them, plus what it remembers about each."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from esml_operator.elasticsearch.connections import ConnectionConfig
from esml_operator.elasticsearch.models import Assignment
from esml_operator.reconcile import ActionFailure

KOPF_STATUS_KEY = "kopf"


@dataclass
class Entry:
    uid: str
    body: Mapping[str, Any]
    generation: int = 0
    passed_generation: int = 0  # the generation the last completed pass decided on
    cluster_key: str | None = None  # the pooled client's key (snapshots are cached per key)
    config: ConnectionConfig | None = None  # the last connection that resolved (kept for deletion)
    secrets_fingerprint: str | None = None
    last_assignment: Assignment | None = None
    failure: ActionFailure | None = None
    jitter: float = 0.5  # drawn once per failure, so the planned retry moment stays put across passes
    written_status: Mapping[str, Any] | None = None

    @property
    def meta(self) -> Mapping[str, Any]:
        meta = self.body.get("metadata")
        return meta if isinstance(meta, Mapping) else {}

    @property
    def name(self) -> str:
        """``namespace/name``, for logs and messages."""
        return f"{self.meta.get('namespace')}/{self.meta.get('name')}"

    @property
    def stored_status(self) -> dict[str, Any]:
        """The part of ``.status`` the operator owns, as last written or seen."""
        status = self.written_status if self.written_status is not None else self.body.get("status")
        return comparable_status(status)


def comparable_status(status: Mapping[str, Any] | None) -> dict[str, Any]:
    """The part of ``.status`` the operator owns (older versions kept kopf bookkeeping under ``kopf``)."""
    return {k: v for k, v in (status or {}).items() if k != KOPF_STATUS_KEY}


class Registry:
    def __init__(self) -> None:
        self._entries: dict[str, Entry] = {}

    def get(self, uid: str) -> Entry | None:
        return self._entries.get(uid)

    def __iter__(self) -> Iterator[Entry]:
        return iter(list(self._entries.values()))

    def __len__(self) -> int:
        return len(self._entries)

    def uids(self) -> list[str]:
        return list(self._entries)

    def observe(self, body: Mapping[str, Any]) -> tuple[Entry, bool]:
        """Record the latest body; the entry and whether it needs a pass now (new, or a new generation,
        or deletion or finalizers changed)."""
        meta = body.get("metadata") or {}
        uid = str(meta.get("uid", ""))
        generation = int(meta.get("generation") or 0)
        entry = self._entries.get(uid)
        if entry is None:
            entry = self._entries[uid] = Entry(uid=uid, body=body, generation=generation)
            return entry, True
        before = entry.meta
        urgent = (
            generation != entry.generation
            or bool(meta.get("deletionTimestamp")) != bool(before.get("deletionTimestamp"))
            or meta.get("finalizers") != before.get("finalizers")
            or meta.get("annotations") != before.get("annotations")
        )
        entry.body = body
        if generation != entry.generation:
            entry.generation = generation
            if entry.failure is not None and entry.failure.generation != generation:
                entry.failure = None  # a spec change retries at once
        return entry, urgent

    def forget(self, uid: str) -> Entry | None:
        return self._entries.pop(uid, None)
