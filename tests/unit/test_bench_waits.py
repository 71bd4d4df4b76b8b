"""The bench's waits that report instead of failing: SimApi.first_update (figures 3 and 6) and ready_within."""

from __future__ import annotations

import itertools
from typing import Any

import httpx

from bench.es import SimApi
from bench.run import ready_within

UPDATE = "/_ml/trained_models/{}/deployment/_update"


def _recorded(*answers: list[dict[str, Any]]) -> SimApi:
    """A SimApi whose ``GET /_sim/requests`` answers ``answers`` in turn, then the last one again."""
    replies = itertools.chain(answers, itertools.repeat(answers[-1]))

    def handle(request: httpx.Request) -> httpx.Response:
        assert (request.method, request.url.path) == ("GET", "/_sim/requests")
        return httpx.Response(200, json={"requests": next(replies)})

    api = SimApi.__new__(SimApi)  # without its TLS client: the transport is the simulator here
    api.http = httpx.AsyncClient(base_url="https://sim", transport=httpx.MockTransport(handle))
    return api


def _update(deployment: str, allocations: int, at: float) -> dict[str, Any]:
    body = {"number_of_allocations": allocations}
    return {"method": "POST", "path": UPDATE.format(deployment), "wall_time": at, "body": body}


async def test_first_update_is_the_wall_time_of_the_first_matching_update() -> None:
    api = _recorded(
        [],
        [_update("dep-000", 2, 10.0), _update("dep-001", 3, 11.0)],  # another count, another deployment
        [_update("dep-000", 2, 10.0), _update("dep-001", 3, 11.0), _update("dep-000", 3, 12.5)],
    )
    try:
        assert await api.first_update("dep-000", 3, within=5) == 12.5
    finally:
        await api.aclose()


async def test_first_update_is_none_when_the_change_never_arrives() -> None:
    api = _recorded([_update("dep-000", 2, 10.0)])
    try:
        assert await api.first_update("dep-000", 3, within=0.05) is None
    finally:
        await api.aclose()


async def test_ready_within_returns_the_time_and_the_count_that_reached_the_total() -> None:
    counts = iter([1, 2, 3, 4])

    async def count() -> int:
        return next(counts)

    _, ready = await ready_within(count, 3, within=5, interval=0)
    assert ready == 3  # a fourth count would mean it went on polling


async def test_ready_within_reports_how_many_were_ready_when_time_ran_out() -> None:
    async def count() -> int:
        return 1

    elapsed, ready = await ready_within(count, 3, within=0.05, interval=0.01)
    assert ready == 1 and elapsed >= 0.05
