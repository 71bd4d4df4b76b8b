"""Figure 2's capacity rows: what a short deployment costs in Elasticsearch requests (issue 22).

While a deployment is short of its allocations, the operator reads ``GET _ml/info`` and
``GET _ml/memory/_stats`` to say by how much: at most one of each per cluster per resync
interval, cached, and only on the cluster where a deployment is short. One ModelDeployment asks
for more allocations than a bench simulator has processors; its cluster's requests are counted
by kind over a window, next to the other clusters' and to the steady window's (nothing short).
"""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from bench.es import EsRequest, SimApi, per_interval
from bench.figures import Row
from bench.run import Run, mdep
from harness.polling import wait_for_async

SHORT_NAME = "md-short"
SHORT_ALLOCATIONS = 5000  # more than a bench simulator's ML processors (4 nodes x 1024): _start answers 429
STATS_POLL = "/_ml/trained_models/_all/_stats"
CAPACITY_READS = ("/_ml/info", "/_ml/memory/_stats")


@dataclass(frozen=True)
class ShortCost:
    """Requests per resync interval while one deployment is short."""

    by_kind: dict[str, float]  # on the short deployment's cluster
    others: float  # capacity reads on each other cluster (mean)
    window: float
    to_short: float  # apply -> the status says how short


def kind(request: EsRequest) -> str:
    if request.path == STATS_POLL:
        return "_stats poll"
    if request.path in CAPACITY_READS:
        return request.path.removeprefix("/")
    if request.path.endswith("/deployment/_start"):
        return "_start"
    return "other"


def capacity_reads(log: Sequence[EsRequest], window: float, interval: float) -> float:
    """``_ml/info`` plus ``_ml/memory/_stats`` requests per ``interval``."""
    return sum(per_interval([r for r in log if r.path == path], window, interval) for path in CAPACITY_READS)


def by_kind(log: Sequence[EsRequest], window: float, interval: float) -> dict[str, float]:
    kinds = sorted({kind(r) for r in log})
    return {k: per_interval([r for r in log if kind(r) == k], window, interval) for k in kinds}


def is_short(obj: dict[str, Any]) -> bool:
    """The status gives the numbers: ``status.capacity`` and Ready's reason InsufficientCapacity."""
    status = obj.get("status") or {}
    ready = [c for c in status.get("conditions", []) if c.get("type") == "Ready"]
    return bool(status.get("capacity")) and bool(ready) and ready[0].get("reason") == "InsufficientCapacity"


async def short_cluster(run: Run, sims: Sequence[SimApi], namespace: str) -> ShortCost:
    """Make one deployment on ``sims[0]`` short, count every cluster's requests over a window, then delete it."""
    s = run.sizes
    started = time.monotonic()
    await run.kube.create_mdep(namespace, mdep(SHORT_NAME, sims[0].sim.url, "dep-short", SHORT_ALLOCATIONS))

    async def short() -> bool:
        return is_short(await run.kube.get_mdep(namespace, SHORT_NAME))

    await wait_for_async(short, within=6 * s.resync + 30, interval=0.25, what=f"{SHORT_NAME}'s capacity shortfall")
    to_short = time.monotonic() - started
    for sim in sims:
        await sim.clear_requests()
    began = time.monotonic()
    await asyncio.sleep(max(s.steady_window, 2 * s.resync))  # at least 3 polls
    window = time.monotonic() - began
    logs = [await sim.requests() for sim in sims]
    await run.kube.delete_mdep(namespace, SHORT_NAME)
    others = [capacity_reads(log, window, s.resync) for log in logs[1:]]
    return ShortCost(by_kind(logs[0], window, s.resync), statistics.mean(others) if others else 0.0, window, to_short)


def capacity_rows(steady_reads: float, steady_requests: float, cost: ShortCost) -> list[Row]:
    reads = sum(cost.by_kind.get(path.removeprefix("/"), 0.0) for path in CAPACITY_READS)
    return [
        Row(
            "_ml/info + _ml/memory/_stats per resync interval, per cluster, nothing short",
            steady_reads,
            "requests",
            "0",
            0,
            "floor",
            "no deployment is short",
            limit=0,
            digits=1,
        ),
        Row(
            "_ml/info + _ml/memory/_stats per resync interval, cluster with 1 short deployment",
            reads,
            "requests",
            "<= 2",
            2,
            "floor",
            "one of each, read once per interval",
            limit=2,
            digits=1,
        ),
        Row(
            "_ml/info + _ml/memory/_stats per resync interval, the other clusters",
            cost.others,
            "requests",
            "0",
            0,
            "floor",
            "nothing is short on them",
            limit=0,
            digits=1,
        ),
        Row(
            "ES requests per resync interval, cluster with 1 short deployment",
            sum(cost.by_kind.values()),
            "requests",
            None,
            steady_requests,
            "floor",
            "the same cluster with nothing short (steady window)",
        ),
    ]


def capacity_note(cost: ShortCost) -> str:
    kinds = ", ".join(f"{k} {v:.2f}" for k, v in cost.by_kind.items())
    return (
        f"1 deployment short ({SHORT_ALLOCATIONS} allocations asked, refused with 429; status said so "
        f"{cost.to_short:.1f} s after apply): its cluster's requests per resync interval by kind over "
        f"{cost.window:.0f} s: {kinds}"
    )
