"""Which fields of a resource's remembered body the operator reads: every read must be of a field
:func:`esml_operator.controller.memory.trimmed` keeps, or a reader depends on something the registry dropped."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from esml_operator.controller.memory import KEPT_FIELDS, KEPT_METADATA, OWN_ANNOTATIONS, trimmed


class Reads(dict[str, Any]):
    """A dict that records the keys asked for (``[]``, ``get``, ``in``) under ``path`` into ``log``."""

    def __init__(self, items: Mapping[str, Any], path: str, log: set[str]) -> None:
        super().__init__(items)
        self._path, self._log = path, log

    def _note(self, key: object) -> None:
        self._log.add(f"{self._path}{key}")

    def __getitem__(self, key: str) -> Any:
        self._note(key)
        return super().__getitem__(key)

    def get(self, key: str, default: Any = None) -> Any:
        self._note(key)
        return super().get(key, default)

    def __contains__(self, key: object) -> bool:
        self._note(key)
        return super().__contains__(key)


class TrimGuard:
    """Wraps trimmed bodies so that reads of the top level, ``metadata`` and its annotations are recorded."""

    def __init__(self) -> None:
        self.reads: set[str] = set()

    def trimmed(self, body: Mapping[str, Any]) -> dict[str, Any]:
        kept = trimmed(body)
        meta = dict(kept["metadata"])
        if isinstance(meta.get("annotations"), Mapping):
            meta["annotations"] = Reads(meta["annotations"], "metadata.annotations.", self.reads)
        return Reads({**kept, "metadata": Reads(meta, "metadata.", self.reads)}, "", self.reads)

    def dropped(self) -> set[str]:
        """The reads of a field that :func:`trimmed` never keeps."""
        allowed = {*KEPT_FIELDS, "metadata", *(f"metadata.{key}" for key in KEPT_METADATA)}
        return {
            read
            for read in self.reads
            if read not in allowed and not read.startswith(f"metadata.annotations.{OWN_ANNOTATIONS}")
        }
