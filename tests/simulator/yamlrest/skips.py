"""``skip`` sections: version ranges (``"8.0.0 - 8.2.99"``, ``" - 8.9.99"``, ``all``) and runner features."""

from __future__ import annotations

from typing import Any

#: Features of the format this runner implements. A case that needs another one FAILS (Elasticsearch's
#: runners skip it; here a scenario that silently does not run would be a test that cannot fail).
FEATURES = frozenset({"headers", "warnings", "allowed_warnings", "stash_in_path", "stash_in_key"})


def _version(text: str, default: tuple[int, ...]) -> tuple[int, ...]:
    text = text.strip()
    if not text:
        return default
    parts = [int(p) for p in text.split(".")]
    return tuple(parts + [0] * (3 - len(parts)))


def in_range(version: str, ranges: str) -> bool:
    current = _version(version, (0, 0, 0))
    for item in ranges.split(","):
        if item.strip() == "all":
            return True
        low, sep, high = item.partition("-")
        lower = _version(low, (0, 0, 0))
        upper = _version(high, (99, 99, 99)) if sep else lower
        if lower <= current <= upper:
            return True
    return False


def skip_reason(spec: dict[str, Any], version: str) -> str | None:
    """Why a case is skipped at this version, or None."""
    features = spec.get("features") or []
    if isinstance(features, str):
        features = [features]
    lacking = [f for f in features if f not in FEATURES]
    if lacking:
        raise AssertionError(f"the YAML runner lacks the features {lacking}")
    ranges = spec.get("version")
    if ranges and in_range(version, str(ranges)):
        return f"{spec.get('reason') or 'not for this version'} (Elasticsearch {version})"
    return None
