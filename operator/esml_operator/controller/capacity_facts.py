"""``GET _ml/info`` and ``GET _ml/memory/_stats``, at most once each per cluster per interval, shared.

Asked for only while a deployment on the cluster is short of capacity. A cluster that refuses them
(403: no ``monitor_ml``; 400/404/405: a version without the API) is asked again only after the interval
and the refusal is logged once per cluster; the status then says the numbers are unavailable.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from esml_operator.elasticsearch.client import ElasticsearchClient
from esml_operator.elasticsearch.errors import ApiError, ElasticsearchError
from esml_operator.elasticsearch.ml_capacity import MlCapacity, MlLimits, MlNodeMemory
from esml_operator.elasticsearch.models import EsVersion

logger = logging.getLogger(__name__)

#: Statuses that mean "not allowed" or "no such API here": degrade, never retry faster than the interval.
_REFUSED = frozenset({400, 403, 404, 405})


@dataclass
class _Slot:
    taken: MlCapacity | None = None
    at: float = float("-inf")
    lock: asyncio.Lock | None = None
    told: bool = False  # the refusal was logged


class CapacityFacts:
    def __init__(self, *, interval: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._interval = interval
        self._clock = clock
        self._slots: dict[str, _Slot] = {}
        self.requests = 0  # requests sent (tests, benchmarks)

    def forget(self, key: str) -> None:
        self._slots.pop(key, None)

    async def get(self, key: str, client: ElasticsearchClient, version: EsVersion) -> MlCapacity:
        slot = self._slots.setdefault(key, _Slot())
        if slot.lock is None:
            slot.lock = asyncio.Lock()
        async with slot.lock:
            if slot.taken is not None and self._clock() - slot.at < self._interval:
                return slot.taken
            slot.at = self._clock()
            slot.taken = await self._fetch(client, version)
            if slot.taken.problem is not None and not slot.told:
                slot.told = True
                logger.warning("capacity numbers unavailable for %s: %s", client.base_url, slot.taken.problem)
            return slot.taken

    async def _fetch(self, client: ElasticsearchClient, version: EsVersion) -> MlCapacity:
        problems: list[str] = []
        limits: MlLimits | None = None
        nodes: tuple[MlNodeMemory, ...] | None = None
        try:
            self.requests += 1
            limits = await client.ml_limits()
        except ElasticsearchError as error:
            problems.append(_problem("GET _ml/info", error))
        if version.at_least(8, 2):
            try:
                self.requests += 1
                nodes = await client.ml_memory_stats()
            except ElasticsearchError as error:
                problems.append(_problem("GET _ml/memory/_stats", error))
        else:
            problems.append(f"GET _ml/memory/_stats needs Elasticsearch 8.2 (the cluster runs {version})")
        return MlCapacity(limits, nodes, "; ".join(problems) or None)


def _problem(what: str, error: ElasticsearchError) -> str:
    if isinstance(error, ApiError) and error.status == 403:
        return f"{what} was refused (grant the monitor_ml cluster privilege for the numbers)"
    if isinstance(error, ApiError) and error.status in _REFUSED:
        return f"{what} is not available on this cluster"
    return f"{what} failed: {error.message}"
