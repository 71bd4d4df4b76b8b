"""Persist the simulated cluster across restarts (atomic JSON writes).

The command keeps its state by default in
``${XDG_STATE_HOME:-~/.local/state}/esml-simulator/<port>/state.json``: the
simulator a user reaches at ``localhost:9200`` comes back with its API keys,
users and deployments. ``--state-file`` chooses the file, ``--ephemeral``
keeps nothing, and so does ``--port 0`` (a restart gets another port, so
there is nothing to come back to).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from esml_simulator.versions import EsVersion


def write_json_atomic(path: str | Path, payload: dict[str, Any]) -> None:
    _write_atomic(Path(path), json.dumps(payload, indent=2, sort_keys=True))


def _write_atomic(target: Path, text: str) -> None:
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    tmp.write_text(text)
    tmp.replace(target)


def read_state(path: str | Path) -> dict[str, Any] | None:
    target = Path(path)
    if not target.exists():
        return None
    data = json.loads(target.read_text())
    if not isinstance(data, dict) or data.get("format") != 1:
        raise ValueError(f"{target} is not a simulator state file")
    return data


def default_state_file(port: int, environ: Mapping[str, str] | None = None) -> Path | None:
    """Where the command keeps its state when not told: per port under the XDG state directory; None for port 0."""
    if port == 0:
        return None
    env = os.environ if environ is None else environ
    xdg = env.get("XDG_STATE_HOME", "")
    if xdg and Path(xdg).is_absolute():  # the XDG spec ignores a relative path
        root = Path(xdg)
    else:
        home = env.get("HOME")
        root = (Path(home) if home else Path.home()) / ".local" / "state"
    return root / "esml-simulator" / str(port) / "state.json"


def check_version(data: Mapping[str, Any], path: str | Path, version: EsVersion) -> None:
    """Refuse a state saved by a newer emulated version: like Elasticsearch, it upgrades but never downgrades."""
    saved = data.get("es_version")
    if isinstance(saved, str) and EsVersion.parse(saved) > version:
        raise ValueError(
            f"{path} holds the state of a simulated Elasticsearch {saved}, newer than {version}, and Elasticsearch "
            f"cannot be downgraded: start with --es-version {saved} or later, choose another --state-file, run with "
            "--ephemeral, or delete the file"
        )


class StateWriter:
    """Writes the state after every change (atomically, and only when it differs from the last write)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._last: str | None = None

    def write(self, payload: dict[str, Any]) -> None:
        content = json.dumps({k: v for k, v in payload.items() if k != "saved_at"}, sort_keys=True)
        if content == self._last:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        _write_atomic(self.path, json.dumps(payload, indent=2, sort_keys=True))
        self._last = content
