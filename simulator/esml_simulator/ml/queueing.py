"""The inference queue of a deployment on each node: arrivals, service, pending requests and rejections.

How Elasticsearch behaves (in our words): each inference request goes to one
node of the deployment, picked in proportion to the node's allocations. Each
node's worker has a bounded queue of ``queue_capacity`` requests; an
allocation works on one request at a time. A request that finds the queue
full is refused with 429 (``es_rejected_execution_exception``, ``inference
process queue is full. Unable to execute command``) and counted in the node's
``rejected_execution_count``. ``number_of_pending_requests`` is the queue's
length plus the requests the node is working on.

The simulator treats the traffic of ``/_sim/deployments/{id}/_load`` as a
fluid: with ``R`` requests per second and ``T`` ms per request, a node with
``a`` of the deployment's ``A`` routable allocations receives ``R * a / A``
requests per second and serves at most ``a * 1000 / T``. Between two simulated
events these rates are constant, so the queue moves linearly, and
:func:`flow` solves each interval exactly (filling, draining, full). The
numbers therefore depend only on the simulated clock: under a fake clock a
test can assert them exactly. ``threads_per_allocation`` is not a factor
here: ``T`` is the time a request takes on its allocation, threads included.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from esml_simulator.ml.state import Deployment

QUEUE_FULL = "inference process queue is full. Unable to execute command"


@dataclass(frozen=True)
class NodeRates:
    allocations: int
    arrivals: float  # requests per second sent to this node
    capacity: float  # requests per second its allocations can serve (inf when requests take no time)


@dataclass(frozen=True)
class Flow:
    """What one node's queue did over an interval."""

    queued: float  # at the end
    served: float
    rejected: float


def node_rates(dep: Deployment) -> dict[str, NodeRates]:
    """Arrival and service rates per routable node (a started route with allocations), keyed by node id."""
    routable = {nid: r.current for nid, r in dep.routes.items() if r.routable}
    total = sum(routable.values())
    load = dep.load
    per_allocation = math.inf if load.inference_time_ms <= 0 else 1000.0 / load.inference_time_ms
    return {nid: NodeRates(a, load.requests_per_second * a / total, a * per_allocation) for nid, a in routable.items()}


def flow(queued: float, rates: NodeRates, limit: int, seconds: float) -> Flow:
    """A queue of at most ``limit`` requests, starting at ``queued``, after ``seconds`` of constant rates."""
    arrivals, capacity = rates.arrivals, rates.capacity
    if seconds <= 0:
        return Flow(queued, 0.0, 0.0)
    if math.isinf(capacity):
        return Flow(0.0, queued + arrivals * seconds, 0.0)
    growth = arrivals - capacity
    if growth > 0:
        to_full = (limit - queued) / growth
        if seconds <= to_full:
            return Flow(queued + growth * seconds, capacity * seconds, 0.0)
        return Flow(float(limit), capacity * seconds, growth * (seconds - to_full))
    if queued <= 0 or growth == 0:
        return Flow(queued, (capacity if queued > 0 else arrivals) * seconds, 0.0)
    to_empty = queued / -growth
    busy = min(seconds, to_empty)
    return Flow(max(0.0, queued + growth * seconds), capacity * busy + arrivals * (seconds - busy), 0.0)


def account(dep: Deployment, seconds: float) -> None:
    """Move every node's queue ``seconds`` forward; completed requests add to the deployment's count."""
    load = dep.load
    rates = node_rates(dep)
    queues = {nid: q for nid, q in load.queues.items() if nid in rates}  # a node that stops serving drops its queue
    for nid, node in rates.items():
        result = flow(queues.get(nid, 0.0), node, dep.queue_capacity, seconds)
        queues[nid] = result.queued
        load.accumulated += result.served
        if result.rejected:
            load.rejected[nid] = load.rejected.get(nid, 0.0) + result.rejected
        load.peak_per_minute[nid] = max(load.peak_per_minute.get(nid, 0), throughput_per_minute(node, result.queued))
    load.queues = {nid: q for nid, q in queues.items() if q > 0}


def serving_rate(rates: NodeRates, queued: float) -> float:
    """Requests per second the node completes now: all its allocations while a queue waits, else the arrivals."""
    return rates.capacity if queued > 0 or rates.arrivals >= rates.capacity else rates.arrivals


def throughput_per_minute(rates: NodeRates, queued: float) -> int:
    rate = serving_rate(rates, queued)
    return 0 if math.isinf(rate) else int(rate * 60)


def pending(rates: NodeRates, queued: float) -> int:
    """Queued plus in progress: each busy allocation holds one request."""
    if queued > 0 or rates.arrivals >= rates.capacity:
        working = float(rates.allocations)
    else:
        working = rates.arrivals / rates.capacity * rates.allocations
    return whole(queued + working)


def whole(requests: float) -> int:
    """Whole requests, forgiving the clock's rounding (0.1 s after 1.7e9 s is 0.0999999 s: 380/s gives 38)."""
    return math.floor(round(requests, 3))


def admit(dep: Deployment) -> bool:
    """Whether one more request finds room: it goes to the node with the most free queue room.

    When every queue is full the request is refused, and it counts as a
    rejection on the node it was sent to.
    """
    rates = node_rates(dep)
    if not rates:
        return True  # nothing serves it yet: the caller's own checks answer
    room = {nid: dep.queue_capacity - dep.load.queues.get(nid, 0.0) for nid in rates}
    chosen = min(room, key=lambda nid: (-room[nid], nid))
    if room[chosen] >= 1:
        return True
    dep.load.rejected[chosen] = dep.load.rejected.get(chosen, 0.0) + 1
    return False
