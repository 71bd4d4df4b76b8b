"""What one /scale change costs besides its ``_update``: API writes, the watch events they echo, ES requests.

Counted over figure 1's changes, from outside the operator: the API server's own request counters
(``apiserver_request_total``, the bench's /scale PATCHes and Leases left out), the bare watch client's log
(an event of a changed resource whose resourceVersion is not one a /scale PATCH returned was written by the
operator: its own status write coming back to it, and to every other watcher), and each simulator's request log.
"""

from __future__ import annotations

import contextlib
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from bench.es import EsRequest, SimApi
from bench.figures import Row
from bench.kube import delta
from bench.latency import Change
from bench.run import Run
from harness.polling import TimedOut, wait_for_async

SCALE = "modeldeployments/scale"  # the bench's own changes
QUIET = 1.0  # seconds without a new event of a changed resource: the operator is done with them


@dataclass(frozen=True)
class ChangeCost:
    changes: int
    api_writes: dict[str, int]  # by resource (and subresource), the bench's /scale PATCHes left out
    echoes: int  # watch events of the changed resources that no /scale PATCH caused
    es_requests: dict[str, int]  # by kind

    def per_change(self, count: float) -> float:
        return count / self.changes if self.changes else 0.0


def es_kind(request: EsRequest) -> str:
    if request.path.endswith("/deployment/_update"):
        return "_update"
    if request.path.endswith("/_stats"):
        return "_stats"
    return f"{request.method} {request.path.rsplit('/', 1)[-1] or '/'}"


def echoes(events: Sequence[Mapping[str, Any]], changes: Sequence[Change]) -> int:
    """Events of the changed resources after the first change that carry no resourceVersion a PATCH returned."""
    if not changes:
        return 0
    ours = {(c.ack.namespace, c.ack.name, c.ack.resource_version) for c in changes}
    changed = {(c.ack.namespace, c.ack.name) for c in changes}
    begin = min(c.ack.sent for c in changes)
    return sum(
        1
        for e in events
        if e["t"] >= begin and (e["ns"], e["name"]) in changed and (e["ns"], e["name"], e["rv"]) not in ours
    )


async def settle(run: Run, changes: Sequence[Change], *, within: float = 10.0) -> None:
    """Wait until no event of a changed resource arrived for ``QUIET`` seconds (the last status writes are in)."""
    changed = {(c.ack.namespace, c.ack.name) for c in changes}
    begin = min((c.ack.sent for c in changes), default=time.time())

    def quiet() -> bool:
        times = [e["t"] for e in run.watch_events(begin) if (e["ns"], e["name"]) in changed]
        return not times or time.time() - max(times) >= QUIET

    with contextlib.suppress(TimedOut):  # still busy after ``within``: count what arrived
        await wait_for_async(quiet, within=within, interval=0.2, what="the changed resources to go quiet")


async def change_cost(
    run: Run, changes: Sequence[Change], sims: Sequence[SimApi], writes_before: Mapping[str, float]
) -> ChangeCost:
    """The cost of ``changes`` (measured since ``writes_before`` and the simulators' last clear)."""
    await settle(run, changes)
    writes = delta(await run.kube.write_counts(), writes_before)
    writes.pop(SCALE, None)
    requests: Counter[str] = Counter()
    for sim in sims:
        requests.update(es_kind(r) for r in await sim.requests())
    events = run.watch_events(min((c.ack.sent for c in changes), default=0.0))
    return ChangeCost(len(changes), writes, echoes(events, changes), dict(requests))


def cost_rows(cost: ChangeCost) -> list[Row]:
    return [
        Row(
            "API writes per change",
            cost.per_change(sum(cost.api_writes.values())),
            "writes",
            None,
            1,
            "floor",
            "one status write saying the new allocations",
        ),
        Row(
            "watch events the operator caused per change",
            cost.per_change(cost.echoes),
            "events",
            None,
            1,
            "floor",
            "the echo of one status write",
        ),
        Row(
            "ES requests per change",
            cost.per_change(sum(cost.es_requests.values())),
            "requests",
            None,
            1,
            "floor",
            "one _update",
        ),
    ]


def cost_note(cost: ChangeCost) -> str:
    writes = ", ".join(f"{k} {cost.per_change(v):.2f}" for k, v in sorted(cost.api_writes.items())) or "none"
    es = ", ".join(f"{k} {cost.per_change(v):.2f}" for k, v in sorted(cost.es_requests.items())) or "none"
    return (
        f"per change, over {cost.changes} changes: API writes by resource: {writes}; ES requests by kind: {es} "
        "(resync polls in the window included)"
    )
