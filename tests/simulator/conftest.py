"""Fixtures: an in-process simulator on a loopback port, raw HTTP and the official client."""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import aiohttp
import pytest
from elasticsearch import AsyncElasticsearch

from esml_simulator import FakeClock, Simulator
from harness.polling import wait_for_async

AUTH = "Basic " + base64.b64encode(b"elastic:changeme").decode()
MODEL = "elastic__distilbert-base-uncased-finetuned-conll03-english"
SMALL = 1630


@dataclass
class Reply:
    status: int
    body: Any
    headers: Any

    @property
    def error_type(self) -> str:
        return str(self.body["error"]["type"])

    @property
    def reason(self) -> str:
        return str(self.body["error"]["reason"])


class Http:
    """Raw HTTP against the simulator (for what the official client cannot send)."""

    def __init__(self, sim: Simulator, session: aiohttp.ClientSession) -> None:
        self.sim = sim
        self.session = session

    async def __call__(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        params: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
        auth: str | None = AUTH,
        data: bytes | None = None,
    ) -> Reply:
        hdrs: dict[str, str] = {}
        if auth is not None:
            hdrs["Authorization"] = auth
        if body is not None:
            data = json.dumps(body).encode()
            hdrs["Content-Type"] = "application/json"
        hdrs.update(headers or {})
        async with self.session.request(method, self.sim.url + path, params=params, data=data, headers=hdrs) as r:
            text = await r.text()
            parsed = json.loads(text) if text else None
            return Reply(r.status, parsed, r.headers)


async def settle(sim: Simulator, seconds: float) -> None:
    """Advance the fake clock once a request handler is waiting on it."""
    clock = sim.clock
    assert isinstance(clock, FakeClock)
    await wait_for_async(lambda: clock.pending, within=2.0, interval=0.005, what="a handler waiting on the fake clock")
    clock.advance(seconds)


SimFactory = Callable[..., Awaitable[Simulator]]


@pytest.fixture
async def make_sim() -> AsyncIterator[SimFactory]:
    started: list[Simulator] = []

    async def factory(**overrides: Any) -> Simulator:
        settings: dict[str, Any] = {
            "port": 0,
            "fake_clock": True,
            "allocation_delay": 0.0,
            "models": [MODEL],
            "model_size": SMALL,
        }
        settings.update(overrides)
        sim = Simulator(**settings)
        await sim.start()
        started.append(sim)
        return sim

    yield factory
    for sim in started:
        await sim.stop()


@pytest.fixture
async def sim(make_sim: SimFactory) -> Simulator:
    return await make_sim()


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as s:
        yield s


@pytest.fixture
async def http(sim: Simulator, session: aiohttp.ClientSession) -> Http:
    return Http(sim, session)


@pytest.fixture
async def es(sim: Simulator) -> AsyncIterator[AsyncElasticsearch]:
    client = AsyncElasticsearch(sim.url, basic_auth=("elastic", "changeme"), retry_on_timeout=False, max_retries=0)
    yield client
    await client.close()
