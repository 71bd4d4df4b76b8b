"""CapacityFacts: one _ml/info and one _ml/memory/_stats per cluster per interval; a refusal degrades, said once."""

from __future__ import annotations

import logging

import pytest

from esml_operator.controller.capacity_facts import CapacityFacts
from esml_operator.elasticsearch.client import ElasticsearchClient
from esml_operator.elasticsearch.models import EsVersion

from .fakes import FakeES, es_error, es_json
from .test_ml_capacity import MEMORY_STATS, ML_INFO

V8_15 = EsVersion(8, 15)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_one_request_each_per_interval(fake: FakeES, es: ElasticsearchClient) -> None:
    fake.route("GET", "/_ml/info", es_json(200, ML_INFO))
    fake.route("GET", "/_ml/memory/_stats", es_json(200, MEMORY_STATS))
    clock = Clock()
    facts = CapacityFacts(interval=60.0, clock=clock)
    first = await facts.get("c1", es, V8_15)
    for _ in range(5):
        assert await facts.get("c1", es, V8_15) is first
    assert len(fake.requests) == 2
    assert first.problem is None and first.nodes is not None and len(first.nodes) == 2
    clock.now += 60.0
    await facts.get("c1", es, V8_15)
    assert len(fake.requests) == 4


async def test_without_monitor_ml_it_degrades_and_says_so_once(
    fake: FakeES, es: ElasticsearchClient, caplog: pytest.LogCaptureFixture
) -> None:
    refusal = es_error(403, "security_exception", "action [cluster:monitor/xpack/ml/info/get] is unauthorized")
    fake.route("GET", "/_ml/info", refusal)
    fake.route("GET", "/_ml/memory/_stats", refusal)
    clock = Clock()
    facts = CapacityFacts(interval=60.0, clock=clock)
    with caplog.at_level(logging.WARNING, logger="esml_operator.controller.capacity_facts"):
        for _ in range(3):
            found = await facts.get("c1", es, V8_15)
            clock.now += 61.0
    assert found.limits is None and found.nodes is None
    assert found.problem is not None and "monitor_ml" in found.problem
    assert len(fake.requests) == 6  # once each per interval, never a loop
    assert len([record for record in caplog.records if "capacity numbers unavailable" in record.message]) == 1


async def test_before_8_2_memory_stats_is_not_asked(fake: FakeES, es: ElasticsearchClient) -> None:
    fake.route("GET", "/_ml/info", es_json(200, ML_INFO))
    found = await CapacityFacts(interval=60.0).get("c1", es, EsVersion(8, 1))
    assert [request.url.path for request in fake.requests] == ["/_ml/info"]
    assert found.limits is not None and found.nodes is None
    assert found.problem is not None and "8.2" in found.problem
