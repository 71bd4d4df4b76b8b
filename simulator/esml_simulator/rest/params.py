"""Query-parameter bookkeeping as Elasticsearch's REST layer does it.

A handler *consumes* the parameters it reads; whatever is left over is an
``unrecognized parameter`` 400 (``BaseRestHandler``), raised after the handler
has parsed the request, so parse errors win over it.
"""

from __future__ import annotations

import builtins
from collections.abc import Iterable, Mapping

from esml_simulator.errors import EsError, illegal_argument
from esml_simulator.units import ByteSize, TimeValue, parse_bool_param, parse_byte_size, parse_int_param, parse_time

#: Parameters every endpoint accepts (consumed by the REST layer itself).
RESPONSE_PARAMS = frozenset({"pretty", "human", "error_trace", "filter_path", "format"})


def levenshtein_similarity(target: str, other: str) -> float:
    """Lucene ``LevenshteinDistance.getDistance``: 1 - edits / max(len)."""
    n, m = len(target), len(other)
    if n == 0 or m == 0:
        return 1.0 if n == m else 0.0
    previous = list(range(n + 1))
    for j in range(1, m + 1):
        current = [j] + [0] * n
        for i in range(1, n + 1):
            cost = 0 if target[i - 1] == other[j - 1] else 1
            current[i] = min(current[i - 1] + 1, previous[i] + 1, previous[i - 1] + cost)
        previous = current
    return 1.0 - previous[n] / max(n, m)


def unrecognized_message(path: str, invalid: Iterable[str], candidates: Iterable[str], detail: str) -> str:
    names = sorted(set(invalid))
    cands = sorted(set(candidates))
    parts = []
    for name in names:
        scored = [(levenshtein_similarity(name, c), c) for c in cands]
        keys = [c for _, c in sorted((s for s in scored if s[0] > 0.5), key=lambda t: (-t[0], t[1]))]
        text = f"[{name}]"
        if keys:
            text += " -> did you mean " + (f"[{keys[0]}]" if len(keys) == 1 else "any of [" + ", ".join(keys) + "]")
            text += "?"
        parts.append(text)
    plural = "s" if len(names) > 1 else ""
    return f"request [{path}] contains unrecognized {detail}{plural}: " + ", ".join(parts)


class Query:
    """The query string of one request, tracking which parameters were read."""

    def __init__(self, params: Mapping[str, str], path: str) -> None:
        self._params = dict(params)
        self._path = path
        self._consumed: set[str] = set(RESPONSE_PARAMS)
        self._known: set[str] = set(RESPONSE_PARAMS)

    def __contains__(self, name: str) -> builtins.bool:
        return name in self._params

    @property
    def names(self) -> set[str]:
        return set(self._params)

    def raw(self, name: str) -> str | None:
        self._consumed.add(name)
        self._known.add(name)
        return self._params.get(name)

    def string(self, name: str, default: str | None = None) -> str | None:
        value = self.raw(name)
        return default if value is None else value

    def int(self, name: str) -> int | None:
        value = self.raw(name)
        return None if value is None else parse_int_param(name, value)

    def bool(self, name: str, default: builtins.bool) -> builtins.bool:
        value = self.raw(name)
        return default if value is None else parse_bool_param(value)

    def time(self, name: str) -> TimeValue | None:
        value = self.raw(name)
        return None if value is None else parse_time(value, name)

    def byte_size(self, name: str) -> ByteSize | None:
        value = self.raw(name)
        return None if value is None else parse_byte_size(value, name)

    def flag(self, name: str) -> builtins.bool:
        """``?human`` style flags."""
        value = self._params.get(name)
        if value is None:
            return False
        return value in ("", "true")

    def check_unconsumed(self) -> None:
        left = set(self._params) - self._consumed
        if left:
            raise illegal_argument(unrecognized_message(self._path, left, self._known, "parameter"))


def check_body_fields(parser: str, body: Mapping[str, object], allowed: Iterable[str]) -> None:
    allowed_set = set(allowed)
    for key in body:
        if key not in allowed_set:
            raise EsError(400, "x_content_parse_exception", f"[1:2] [{parser}] unknown field [{key}]")
