"""Figure 1's tail: which changes took over 100 ms, and why, from the operator's own per-change timing lines.

The operator logs ``change timing:`` for every pass that read a watch event
(at INFO when its Elasticsearch write was sent more than 100 ms after the
event): how long the change queued behind a pass of the same resource, then
each stage of the pass (connect, poll, write slot, ...), and when the write
was sent. A slow change is matched to the first such line of its resource
whose resourceVersion is at least the change's (a coalesced burst is served
by the pass that read its last change). Its cause is that line's largest
stage before the write; a slow change with no slow line was quick inside its
pass, so its time went before it (watch delivery, or the operator's event loop
reading the event late) or after it (the request).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from bench.latency import Change

SLOW_MS = 100.0
_LINE = re.compile(r"change timing: (?P<fields>.*)$")
#: Stages before the write, as the operator names them, and what the figure calls them.
BEFORE_WRITE = {
    "queued": "queued behind a pass of the same resource",
    "finalizer": "finalizer write",
    "connect": "Secrets and connection",
    "poll": "waited for a poll",
    "autoscalers": "HPA lookup",
    "slot": "per-cluster write slot",
}
NOT_SENT = "not written by the pass that read it (throttled, failed or nothing to do)"
WATCH = "before the operator: watch delivery"
AFTER = (
    "outside the pass (it sent the write within 100 ms of its watch event): the operator's event loop or the request"
)
UNMATCHED = "no timing line (an operator without them)"


@dataclass(frozen=True)
class Timing:
    resource: str
    rv: int
    ms: dict[str, float]  # stage (and "queued") -> milliseconds
    sent_ms: float | None  # watch event -> write sent


def parse(log: Iterable[str]) -> dict[str, list[Timing]]:
    """Every ``change timing:`` line, per ``namespace/name``, in resourceVersion order."""
    found: dict[str, list[Timing]] = {}
    for line in log:
        match = _LINE.search(line)
        if match is None:
            continue
        fields = dict(part.split("=", 1) for part in match["fields"].split() if "=" in part)
        if not fields.get("rv", "").isdigit():
            continue
        ms = {k.removesuffix("_ms"): float(v) for k, v in fields.items() if k.endswith("_ms") and v != "none"}
        sent = ms.pop("sent", None)
        found.setdefault(fields["resource"], []).append(Timing(fields["resource"], int(fields["rv"]), ms, sent))
    for lines in found.values():
        lines.sort(key=lambda t: t.rv)
    return found


def cause(change: Change, candidates: set[int], timings: dict[str, list[Timing]], *, floor_ms: float) -> str:
    """Why ``change`` (slower than :data:`SLOW_MS`) was slow.

    ``candidates``: the resourceVersions the pass that served it may have read (its own and those of the
    resource's later changes sent before its ``_update`` arrived); ``floor_ms``: the simulator's round trip.
    """
    lines = timings.get(f"{change.ack.namespace}/{change.ack.name}", [])
    served = next((t for t in lines if t.rv in candidates), None)
    if served is not None and served.sent_ms is None:
        return NOT_SENT
    if served is not None and served.sent_ms is not None and served.sent_ms > SLOW_MS:
        stage = max(BEFORE_WRITE, key=lambda s: served.ms.get(s, 0.0))
        return BEFORE_WRITE[stage]
    if not timings:
        return UNMATCHED
    return WATCH if change.watch_ms + floor_ms > SLOW_MS else AFTER


def _rv(change: Change) -> int:
    return int(change.ack.resource_version) if change.ack.resource_version.isdigit() else -1


def causes(changes: Sequence[Change], log: Iterable[str], *, floor_ms: float) -> Counter[str]:
    """The causes of the changes slower than :data:`SLOW_MS`, counted."""
    timings = parse(log)
    counted: Counter[str] = Counter()
    for change in changes:
        if change.latency_ms <= SLOW_MS:
            continue
        arrived = change.ack.acked + change.latency_ms / 1000  # inf when it never arrived: every later change
        same = [c for c in changes if c.target is change.target and _rv(c) >= _rv(change) and c.ack.sent <= arrived]
        counted[cause(change, {_rv(c) for c in same}, timings, floor_ms=floor_ms)] += 1
    return counted


def summary(counted: Counter[str], total: int) -> str:
    if not counted:
        return f"no change of {total} took over {SLOW_MS:.0f} ms"
    parts = ", ".join(f"{n} {why}" for why, n in counted.most_common())
    return f"{sum(counted.values())} of {total} changes took over {SLOW_MS:.0f} ms: {parts}"
