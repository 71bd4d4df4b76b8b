"""Talking to one simulator: its request log and admin API (``/_sim/``), and timed Elasticsearch round trips."""

from __future__ import annotations

import contextlib
import ssl
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import httpx

from bench.figures import percentile
from bench.procs import API_KEY, Simulator
from harness.polling import TimedOut, wait_for_async

UPDATE_SUFFIX = "/deployment/_update"
WRITE_SUFFIXES = ("/deployment/_start", "/deployment/_update", "/deployment/_stop")


@dataclass(frozen=True)
class EsRequest:
    method: str
    path: str
    wall_time: float
    deployment: str | None  # for /_ml/trained_models/{id}/deployment/...
    allocations: int | None  # number_of_allocations sent (body or query), if any

    @property
    def is_write(self) -> bool:
        return self.method == "POST" and self.path.endswith(WRITE_SUFFIXES)

    @property
    def is_update(self) -> bool:
        return self.method == "POST" and self.path.endswith(UPDATE_SUFFIX)


def _parse(raw: dict[str, Any]) -> EsRequest:
    path = str(raw["path"])
    parts = path.strip("/").split("/")
    deployment = parts[2] if len(parts) >= 4 and parts[:2] == ["_ml", "trained_models"] else None
    allocations: Any = None
    body = raw.get("body")
    if isinstance(body, dict):
        allocations = body.get("number_of_allocations")
    allocations = allocations if allocations is not None else (raw.get("query") or {}).get("number_of_allocations")
    return EsRequest(
        raw["method"], path, float(raw["wall_time"]), deployment, int(allocations) if allocations is not None else None
    )


def per_interval(requests: Sequence[EsRequest], window: float, interval: float) -> float:
    """Requests per ``interval``, from the spacing of polls (bursts less than 0.5 s apart are one poll).

    Counting whole polls between the first and the last one avoids the edge
    effect of a fixed window (6 or 7 polls in 60 s at a 10 s interval).
    """
    times = sorted(r.wall_time for r in requests)
    if not times:
        return 0.0
    starts = [t for i, t in enumerate(times) if i == 0 or t - times[i - 1] > 0.5]
    if len(starts) < 2:
        return len(times) * interval / window
    before_last = sum(1 for t in times if t < starts[-1])
    return before_last / ((starts[-1] - starts[0]) / interval)


class SimApi:
    """One keep-alive HTTPS client per simulator, trusting the bench CA, authenticating with the bench API key."""

    def __init__(self, sim: Simulator) -> None:
        self.sim = sim
        self.http = httpx.AsyncClient(
            base_url=sim.url,
            verify=ssl.create_default_context(cafile=str(sim.ca)),
            headers={"Authorization": f"ApiKey {API_KEY}"},
            timeout=30,
        )

    async def aclose(self) -> None:
        await self.http.aclose()

    async def requests(self) -> list[EsRequest]:
        response = (await self.http.get("/_sim/requests")).raise_for_status()
        return [_parse(r) for r in response.json()["requests"]]

    async def clear_requests(self) -> None:
        (await self.http.delete("/_sim/requests")).raise_for_status()

    async def set_allocations(self, deployment: str, allocations: int) -> None:
        """An out-of-band change, as someone editing the deployment in Kibana makes it."""
        response = await self.http.post(
            f"/_sim/deployments/{deployment}/_set_allocations", json={"number_of_allocations": allocations}
        )
        response.raise_for_status()

    async def first_update(self, deployment: str, allocations: int, *, within: float) -> float | None:
        """Wall time of the first ``_update`` of ``deployment`` to ``allocations``; None if none within ``within`` s."""

        async def reached() -> float | None:
            hits = [r for r in await self.requests() if r.is_update and r.deployment == deployment]
            return next((r.wall_time for r in hits if r.allocations == allocations), None)

        with contextlib.suppress(TimedOut):
            return float(await wait_for_async(reached, within=within, interval=0.25, what=f"{deployment}'s _update"))
        return None

    async def allocations(self, deployment: str) -> int | None:
        """``number_of_allocations`` Elasticsearch holds for the deployment (its target), or None if absent."""
        response = await self.http.get(f"/_ml/trained_models/{deployment}/_stats")
        if response.status_code == 404:
            return None
        response.raise_for_status()
        for entry in response.json()["trained_model_stats"]:
            stats = entry.get("deployment_stats") or {}
            if stats.get("deployment_id") == deployment:
                return int(stats["number_of_allocations"])
        return None

    async def round_trip_ms(self, samples: int = 30) -> float:
        """Median of ``samples`` keep-alive HTTPS round trips (``GET /``), after one warm-up."""
        await self.http.get("/")
        times = []
        for _ in range(samples):
            start = time.perf_counter()
            (await self.http.get("/")).raise_for_status()
            times.append(1000 * (time.perf_counter() - start))
        return percentile(times, 50)
