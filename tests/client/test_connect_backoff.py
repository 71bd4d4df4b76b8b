"""A failed connect says when the next attempt comes, at WARNING, and tells its callers the same (issue 17).

The pool remembers a failed ``GET /`` for a back-off; the error it raises
carries the seconds until the pool will try again (``retry_after``), so the
pass that sees it is requeued for that moment instead of the next resync.
"""

from __future__ import annotations

import logging

import httpx
import pytest

from esml_operator.elasticsearch import errors as e
from esml_operator.elasticsearch.connections import ConnectionPool

from .fakes import FakeES, es_error, es_json, info_body
from .test_connections import Clock, config

LOGGER = "esml_operator.elasticsearch.connections"


def _refuse(request: httpx.Request) -> httpx.Response:
    raise httpx.ConnectError("connection refused", request=request)


def _pool(fake: FakeES, clock: Clock) -> ConnectionPool:
    return ConnectionPool(
        transport_factory=lambda _cfg: fake.transport(), clock=clock, connect_backoff=1.0, connect_backoff_cap=4.0
    )


def _failures(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == LOGGER and "failed" in r.getMessage()]


async def test_a_failed_connect_carries_and_logs_the_real_next_attempt(
    fake: FakeES, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)
    clock = Clock()
    fake.route("GET", "/", _refuse)
    pool = _pool(fake, clock)
    with pytest.raises(e.ConnectionFailedError) as first:
        await pool.connect(config())
    assert first.value.retry_after == pytest.approx(1.0)
    clock.now += 0.25
    with pytest.raises(e.ConnectionFailedError) as within:
        await pool.connect(config())  # remembered: no request, and the time left until the next attempt
    assert within.value.retry_after == pytest.approx(0.75)
    assert len(fake.requests) == 1
    clock.now += 0.75
    with pytest.raises(e.ConnectionFailedError) as second:
        await pool.connect(config())  # the attempt comes when the first failure said
    assert len(fake.requests) == 2 and second.value.retry_after == pytest.approx(2.0)
    logged = _failures(caplog)
    assert [r.levelno for r in logged] == [logging.WARNING, logging.WARNING]
    assert "(attempt 1; next attempt in 1.0s)" in logged[0].getMessage()
    assert "(attempt 2; next attempt in 2.0s)" in logged[1].getMessage()
    await pool.aclose()


async def test_the_servers_retry_after_is_a_floor_of_the_back_off(fake: FakeES) -> None:
    clock = Clock()
    busy = es_error(503, "unavailable_shards_exception", "not ready", headers={"Retry-After": "3"})
    fake.route("GET", "/", [busy, es_json(200, info_body())])
    pool = _pool(fake, clock)
    with pytest.raises(e.ElasticsearchError) as refused:
        await pool.connect(config())
    assert refused.value.retry_after == pytest.approx(3.0)
    clock.now += 2.0
    with pytest.raises(e.ElasticsearchError):
        await pool.connect(config())  # the back-off alone (1 s) would have asked again already
    assert len(fake.requests) == 1
    clock.now += 1.0
    await pool.connect(config())
    assert len(fake.requests) == 2
    await pool.aclose()


async def test_a_permanent_refusal_does_not_promise_an_early_attempt(
    fake: FakeES, caplog: pytest.LogCaptureFixture
) -> None:
    """A permanent error is not retried on the back-off (the resource is Stalled): the log says when it is."""
    caplog.set_level(logging.INFO, logger=LOGGER)
    fake.route("GET", "/", es_error(401, "security_exception", "unable to authenticate user [elastic]"))
    pool = _pool(fake, Clock())
    with pytest.raises(e.AuthenticationError):
        await pool.connect(config())
    (logged,) = _failures(caplog)
    assert logged.levelno == logging.WARNING
    assert "next attempt at the next resync, or when the resource or its Secrets change" in logged.getMessage()
    assert "next attempt in" not in logged.getMessage()
    await pool.aclose()
