"""Idle connections to Elasticsearch (--idle-connections, --idle-connection-expiry): how many a cluster keeps
open for its next requests, and for how long, on the pool's real transport against a loopback server."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web

from esml_operator.controller.connect import Resolved, resolve
from esml_operator.elasticsearch.connections import ConnectionConfig, ConnectionPool
from esml_operator.reconcile import parse_spec
from esml_operator.settings import Settings
from tests.unit.runtime_fakes import FakeKube

from .fakes import info_body


@dataclasses.dataclass
class Peers:
    url: str = ""
    seen: list[Any] = dataclasses.field(default_factory=list)  # the client's address of each request


@pytest.fixture
async def server() -> AsyncIterator[Peers]:
    peers = Peers()

    async def info(request: web.Request) -> web.Response:
        peers.seen.append(request.transport.get_extra_info("peername") if request.transport else None)
        return web.json_response(info_body("9.2.0"), headers={"X-Elastic-Product": "Elasticsearch"})

    app = web.Application()
    app.router.add_get("/", info)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    peers.url = f"http://127.0.0.1:{runner.addresses[0][1]}"
    try:
        yield peers
    finally:
        await runner.cleanup()


async def connections_for(server: Peers, **limits: Any) -> int:
    """How many connections three requests in a row took."""
    pool = ConnectionPool()
    try:
        client = pool.client(ConnectionConfig(url=server.url, **limits))
        for _ in range(3):
            await client.info()
    finally:
        await pool.aclose()
    return len(set(server.seen))


async def test_by_default_requests_in_a_row_share_one_connection(server: Peers) -> None:
    assert await connections_for(server) == 1


async def test_no_idle_connections_means_a_new_one_per_request(server: Peers) -> None:
    assert await connections_for(server, max_keepalive_connections=0) == 3


async def test_an_idle_connection_past_its_expiry_is_not_reused(server: Peers) -> None:
    assert await connections_for(server, keepalive_expiry=0.0) == 3


async def test_the_settings_reach_every_cluster_connection() -> None:
    settings = Settings.load(["--all-namespaces", "--idle-connections", "2", "--idle-connection-expiry", "45"], {})
    parsed = parse_spec({"modelId": "m", "elasticsearch": {"url": "https://es:9200"}})
    resolved = await resolve(parsed, "ml", FakeKube(), settings)
    assert isinstance(resolved, Resolved)
    assert (resolved.config.max_keepalive_connections, resolved.config.keepalive_expiry) == (2, 45.0)
    assert resolved.config.key != dataclasses.replace(resolved.config, keepalive_expiry=5.0).key
