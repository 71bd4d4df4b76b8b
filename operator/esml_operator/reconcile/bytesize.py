"""Elasticsearch byte sizes: compare a spec ``cacheSize`` with what ``_stats`` reports.

``_stats`` renders ``cache_size`` in the rounded human form (one decimal,
truncated: 1630 bytes -> ``1.5kb``), ``_start``/``_update`` in the exact form
(``1630b``). Both sides are normalised to the human form before comparing, so
the comparison never reports a difference that is only a rendering artefact.
"""

from __future__ import annotations

import re

_UNITS: dict[str, int] = {
    "b": 1,
    "k": 1024,
    "kb": 1024,
    "m": 1024**2,
    "mb": 1024**2,
    "g": 1024**3,
    "gb": 1024**3,
    "t": 1024**4,
    "tb": 1024**4,
    "p": 1024**5,
    "pb": 1024**5,
}
_PATTERN = re.compile(r"^\s*([0-9]+(?:\.[0-9]+)?)\s*([a-z]*)\s*$", re.IGNORECASE)
_HUMAN_UNITS = (("pb", 1024**5), ("tb", 1024**4), ("gb", 1024**3), ("mb", 1024**2), ("kb", 1024))


def parse_byte_size(text: str) -> int | None:
    """Bytes in ``text`` (``0``, ``10kb``, ``1.5kb``, ``1630b``); ``None`` if unparseable."""
    match = _PATTERN.match(text)
    if not match:
        return None
    number, unit = match.group(1), match.group(2).lower()
    if unit == "":
        return 0 if float(number) == 0 else None
    if unit not in _UNITS:
        return None
    return int(float(number) * _UNITS[unit])


def human_byte_size(size: int) -> str:
    """Elasticsearch's ``ByteSizeValue.toString()``: largest unit, one decimal, truncated."""
    for unit, factor in _HUMAN_UNITS:
        if size >= factor:
            tenths = size * 10 // factor
            whole, fraction = divmod(tenths, 10)
            return f"{whole}{unit}" if fraction == 0 else f"{whole}.{fraction}{unit}"
    return f"{size}b"


def same_byte_size(spec_value: str, reported: str) -> bool:
    """Whether a spec byte size and a reported one (exact or human form) agree."""
    spec_bytes, reported_bytes = parse_byte_size(spec_value), parse_byte_size(reported)
    if spec_bytes is None or reported_bytes is None:
        return spec_value.strip().lower() == reported.strip().lower()
    return human_byte_size(spec_bytes) == human_byte_size(reported_bytes)
