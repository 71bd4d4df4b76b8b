"""Discrete inference calls (``_infer``, inference endpoints) in a deployment's node queues.

Besides the fluid traffic of ``/_sim/.../_load`` (``queueing``), every real
call takes a place on one node: the node whose allocation frees up first.
An allocation serves one request at a time for ``inference_time_ms`` of the
simulator's clock, so calls faster than the allocations can serve wait in
the node's queue. The HTTP answer does not wait for that (a fake clock would
never let it), but the node's statistics do: ``number_of_pending_requests``
counts the calls not yet finished, ``throughput_last_minute`` those finished in
the last minute. A call that finds ``queue_capacity`` calls already waiting on
that node is refused (429) and counted in ``rejected_execution_count``. So an
HPA on pending requests can be driven by real inference calls.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from esml_simulator.ml.state import Deployment

WINDOW = 60.0


def _slots(dep: Deployment, node_id: str, allocations: int, now: float) -> list[float]:
    """When each of the node's allocations is next free (resized to the current allocation count)."""
    slots = sorted(dep.load.slots.get(node_id, []))[:allocations]
    slots += [now] * (allocations - len(slots))
    dep.load.slots[node_id] = slots
    return slots


def _prune(dep: Deployment, now: float) -> None:
    for node_id, calls in list(dep.load.calls.items()):
        kept = [c for c in calls if c[1] > now - WINDOW]
        dep.load.calls[node_id] = kept


def waiting(dep: Deployment, node_id: str, now: float) -> int:
    return sum(1 for start, _ in dep.load.calls.get(node_id, []) if start > now)


def place(dep: Deployment, now: float, count: int) -> bool:
    """Queue ``count`` calls; False (and a rejection counted, nothing queued) when the chosen node is full."""
    routable = {nid: r.current for nid, r in dep.routes.items() if r.routable}
    if not routable:
        return True
    _prune(dep, now)
    service = max(dep.load.inference_time_ms, 0.0) / 1000.0
    first = min(routable, key=lambda nid: (min(_slots(dep, nid, routable[nid], now)), nid))
    if waiting(dep, first, now) >= dep.queue_capacity:
        dep.load.rejected[first] = dep.load.rejected.get(first, 0.0) + 1
        return False
    for _ in range(count):
        node_id = min(routable, key=lambda nid: (min(_slots(dep, nid, routable[nid], now)), nid))
        slots = dep.load.slots[node_id]
        index = slots.index(min(slots))
        start = max(now, slots[index])
        slots[index] = start + service
        dep.load.calls.setdefault(node_id, []).append([start, start + service])
    return True


def node_values(dep: Deployment, node_id: str, now: float) -> tuple[int, int]:
    """(requests pending, requests finished in the last minute) of one node's calls at ``now``."""
    calls = dep.load.calls.get(node_id, [])
    pending = sum(1 for _, finish in calls if finish > now)
    finished = sum(1 for _, finish in calls if now - WINDOW < finish <= now)
    return pending, finished
