"""Dotted response paths and the stash (``$name``, ``${name}``) of the YAML REST format."""

from __future__ import annotations

import re
from typing import Any

_MISSING = object()
_INLINE = re.compile(r"\$\{(\w+)\}")


def substitute(value: Any, stash: dict[str, Any]) -> Any:
    """Replace ``$name`` (a whole string) and ``${name}`` (inside a string) by stashed values, recursively."""
    if isinstance(value, str):
        if value.startswith("$") and value[1:].isidentifier():
            if value[1:] not in stash:
                raise AssertionError(f"nothing stashed as [{value}]")
            return stash[value[1:]]
        return _INLINE.sub(lambda m: str(stash[m.group(1)]), value)
    if isinstance(value, list):
        return [substitute(v, stash) for v in value]
    if isinstance(value, dict):
        return {substitute(k, stash): substitute(v, stash) for k, v in value.items()}
    return value


def split_path(path: str) -> list[str]:
    """``a.b\\.c.0`` -> ``["a", "b.c", "0"]`` (a backslash escapes a dot)."""
    parts = re.split(r"(?<!\\)\.", path)
    return [p.replace("\\.", ".") for p in parts]


def lookup(body: Any, path: str, stash: dict[str, Any], missing: Any = _MISSING) -> Any:
    """The value at ``path`` (``$body`` is the whole body); a missing key fails unless ``missing`` is given."""
    if path in ("$body", ""):
        return body
    value = body
    for raw in split_path(path):
        key = substitute(raw, stash)
        if isinstance(value, list):
            index = int(key)
            if index >= len(value):
                return _absent(path, missing, f"index {index} of {len(value)}")
            value = value[index]
        elif isinstance(value, dict) and str(key) in value:
            value = value[str(key)]
        else:
            return _absent(path, missing, f"no [{key}]")
    return value


def _absent(path: str, missing: Any, why: str) -> Any:
    if missing is _MISSING:
        raise AssertionError(f"[{path}] not in the response: {why}")
    return missing
