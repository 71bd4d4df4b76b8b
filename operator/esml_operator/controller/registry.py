"""The resources the operator knows, as the watch last delivered them (what it remembers of each: :mod:`.memory`)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from esml_operator.controller.memory import Entry, delivered, generation_of, trimmed


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
        """Record the latest body (:func:`~.memory.trimmed`: what the next pass needs); the entry and whether it
        needs a pass now (new, or a new generation, or deletion, finalizers or the operator's annotations changed)."""
        body = trimmed(body)
        meta = body["metadata"]
        uid = str(meta.get("uid", ""))
        generation = generation_of(body)
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
        delivered(entry, body)
        return entry, urgent

    def forget(self, uid: str) -> Entry | None:
        return self._entries.pop(uid, None)
