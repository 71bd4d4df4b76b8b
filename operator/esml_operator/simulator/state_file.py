"""``--state-file``: persist the simulated cluster across restarts (atomic JSON writes)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any


def write_json_atomic(path: str | Path, payload: dict[str, Any]) -> None:
    target = Path(path)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(payload, indent=2, sort_keys=True))
    tmp.replace(target)


def read_state(path: str | Path) -> dict[str, Any] | None:
    target = Path(path)
    if not target.exists():
        return None
    data = json.loads(target.read_text())
    if not isinstance(data, dict) or data.get("format") != 1:
        raise ValueError(f"{target} is not a simulator state file")
    return data
