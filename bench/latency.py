"""Reaction latency: /scale PATCH acknowledged by the API server -> ``_update`` received by Elasticsearch.

Changes go out on a fixed schedule (one every ``spacing`` seconds, round-robin
over the resources); every ``pair_every``-th slot is a back-to-back pair: a
second change to the same resource as soon as the first is acknowledged.

A change counts as delivered by the first ``_update`` for its deployment that
arrives after it was sent and carries its value or the value of a later change
to the same resource that was already sent (a coalesced burst serves every
change in it). Its floor is when the bare watch client received the same
resourceVersion.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from bench.es import EsRequest, SimApi
from bench.figures import percentile
from bench.kube import Kube, ScaleAck
from harness.polling import TimedOut, wait_for_async

MAX_REPLICAS = 4


@dataclass
class Target:
    namespace: str
    name: str
    deployment: str
    sim: SimApi
    replicas: int = 1

    def next_value(self) -> int:
        """1 -> 2 -> ... -> MAX -> 1: two changes in a row never return to the value before them."""
        self.replicas = self.replicas % MAX_REPLICAS + 1
        return self.replicas


@dataclass
class Change:
    target: Target
    ack: ScaleAck
    second_of_pair: bool
    latency_ms: float = math.inf
    watch_ms: float = math.inf


async def send_changes(
    kube: Kube, targets: Sequence[Target], count: int, *, spacing: float, pair_every: int
) -> list[Change]:
    changes: list[Change] = []
    start = time.monotonic()

    async def fire(target: Target, n: int, at: float) -> None:
        await asyncio.sleep(max(0.0, at - time.monotonic()))
        for j in range(n):
            ack = await kube.patch_scale(target.namespace, target.name, target.next_value())
            changes.append(Change(target, ack, second_of_pair=j == 1))

    tasks = []
    sent, slot = 0, 0
    while sent < count:
        n = 2 if pair_every and slot % pair_every == pair_every - 1 and sent + 2 <= count else 1
        tasks.append(asyncio.create_task(fire(targets[slot % len(targets)], n, start + slot * spacing)))
        sent += n
        slot += 1
    await asyncio.gather(*tasks)
    return sorted(changes, key=lambda c: c.ack.sent)


def _match(changes: Sequence[Change], updates: dict[tuple[int, str], list[EsRequest]]) -> int:
    """Fill ``latency_ms`` of every change an ``_update`` served; the number still undelivered."""
    by_target: dict[int, list[Change]] = defaultdict(list)
    for change in changes:
        by_target[id(change.target)].append(change)
    missing = 0
    for chain in by_target.values():
        chain.sort(key=lambda c: c.ack.sent)
        target = chain[0].target
        seen = updates.get((id(target.sim), target.deployment), [])
        for k, change in enumerate(chain):
            for update in seen:
                if update.wall_time < change.ack.sent:
                    continue
                values = {c.ack.replicas for c in chain[k:] if c.ack.sent <= update.wall_time}
                if update.allocations in values:
                    change.latency_ms = 1000 * (update.wall_time - change.ack.acked)
                    break
            else:
                missing += 1
    return missing


async def collect(changes: Sequence[Change], sims: Sequence[SimApi], *, within: float) -> int:
    """Wait (up to ``within`` seconds) until every change reached Elasticsearch; the number that never did."""
    missing = len(changes)

    async def all_arrived() -> bool:
        nonlocal missing
        updates: dict[tuple[int, str], list[EsRequest]] = defaultdict(list)
        for sim in sims:
            for request in await sim.requests():
                if request.is_update and request.deployment:
                    updates[(id(sim), request.deployment)].append(request)
        missing = _match(changes, updates)
        return missing == 0

    with contextlib.suppress(TimedOut):  # the caller reports the changes that never arrived
        await wait_for_async(all_arrived, within=within, interval=0.5, what="every change in Elasticsearch")
    return missing


def add_watch_delivery(changes: Sequence[Change], watch_log: Path) -> None:
    """``watch_ms``: when the bare watch client received each change's resourceVersion, after the ack."""
    wanted = {(c.ack.namespace, c.ack.name, c.ack.resource_version): c for c in changes}
    with watch_log.open() as lines:
        for line in lines:
            event = json.loads(line)
            change = wanted.get((event["ns"], event["name"], event["rv"]))
            if change is not None:
                # Often the event is there before the client has read the answer: that is "no later than the ack".
                change.watch_ms = max(0.0, 1000 * (event["t"] - change.ack.acked))


@dataclass(frozen=True)
class Summary:
    latency: dict[int, float]  # percentile -> ms
    watch: dict[int, float]
    pairs: float  # p50 of the second change of back-to-back pairs
    count: int
    resources: int
    undelivered: int
    changes: Sequence[Change] = ()  # what was measured, for the tail's causes (bench.tail)


def summarize(changes: Sequence[Change], undelivered: int) -> Summary:
    lat = [c.latency_ms for c in changes]
    watch = [c.watch_ms for c in changes]
    pairs = [c.latency_ms for c in changes if c.second_of_pair]
    return Summary(
        latency={p: percentile(lat, p) for p in (50, 95, 99)},
        watch={p: percentile(watch, p) for p in (50, 95, 99)},
        pairs=percentile(pairs, 50) if pairs else math.nan,
        count=len(changes),
        resources=len({id(c.target) for c in changes}),
        undelivered=undelivered,
        changes=tuple(changes),
    )
