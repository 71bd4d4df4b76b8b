"""Figures: rows of (value, unit, target, floor or baseline), a table for people, JSON for machines."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

Reference = Literal["floor", "baseline"]


@dataclass
class Row:
    """One measured quantity.

    ``reference`` is the floor (the least any implementation could do here) or the
    baseline (what a naive implementation does), measured in the same run.
    ``limit`` is the number the target compares ``value`` against (``value <= limit``,
    or ``value == limit`` with ``compare="=="``); ``None`` for rows reported without a target.
    """

    metric: str
    value: float
    unit: str
    target: str | None
    reference: float
    reference_kind: Reference
    reference_what: str
    limit: float | None = None
    compare: Literal["<=", "=="] = "<="
    digits: int = 2  # decimals kept when comparing with ``limit`` (a measurement's own resolution)
    lower_bound: bool = False  # the true value is at least ``value`` (something never happened in time)
    note: str = ""

    @property
    def ratio(self) -> float | None:
        if self.reference == 0 or not math.isfinite(self.reference):
            return None
        return self.value / self.reference

    @property
    def met(self) -> bool | None:
        if self.limit is None:
            return None
        value = round(self.value, self.digits)
        return value == self.limit if self.compare == "==" else value <= self.limit

    def as_json(self) -> dict[str, Any]:
        out = asdict(self)
        out["ratio"] = None if self.ratio is None else round(self.ratio, 3)
        out["met"] = self.met
        for key in ("value", "reference", "limit"):
            if isinstance(out[key], float):
                out[key] = round(out[key], 4)
        return out


@dataclass
class Figure:
    number: int
    key: str
    title: str
    rows: list[Row] = field(default_factory=list)
    measured: bool = True
    reason: str = ""  # why it was not measured
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def as_json(self) -> dict[str, Any]:
        return {
            "number": self.number,
            "key": self.key,
            "title": self.title,
            "measured": self.measured,
            "reason": self.reason,
            "rows": [row.as_json() for row in self.rows],
            "notes": self.notes,
            "seconds": round(self.seconds, 1),
        }


def fmt_number(value: float) -> str:
    if not math.isfinite(value):
        return str(value)
    if value == int(value) and abs(value) < 1e9:
        return str(int(value))
    if abs(value) >= 100:
        return f"{value:.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def table(figures: list[Figure]) -> str:
    header = ("figure", "metric", "value", "unit", "target", "floor/baseline", "ratio", "verdict")
    lines: list[tuple[str, ...]] = []
    for fig in figures:
        name = f"{fig.number}. {fig.key}"
        if not fig.measured:
            lines.append((name, "-", "-", "-", "-", "-", "-", f"not measured: {fig.reason}"))
            continue
        for row in fig.rows:
            value = (">= " if row.lower_bound else "") + fmt_number(row.value)
            ref = f"{fmt_number(row.reference)} ({row.reference_kind})"
            verdict = "-" if row.met is None else ("ok" if row.met else "MISSED")
            ratio = "-" if row.ratio is None else f"{row.ratio:.2f}x"
            lines.append((name, row.metric, value, row.unit, row.target or "-", ref, ratio, verdict))
            name = ""
    widths = [max(len(h), *(len(line[i]) for line in lines)) if lines else len(h) for i, h in enumerate(header)]

    def fmt(cells: tuple[str, ...]) -> str:
        return "  ".join(cell.ljust(width) for cell, width in zip(cells, widths, strict=True)).rstrip()

    out = [fmt(header), fmt(tuple("-" * w for w in widths)), *(fmt(line) for line in lines)]
    notes = [f"  [{fig.number}] {note}" for fig in figures for note in fig.notes]
    if notes:
        out += ["", "notes:", *notes]
    return "\n".join(out)


def percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile (``p`` in 0..100); ``inf`` values count (they are changes never delivered)."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(p / 100 * len(ordered)))
    return ordered[rank - 1]
