"""One poll per cluster: ``_stats`` every time, the inference-endpoint list only when it may have changed."""

from __future__ import annotations

from typing import Any

from esml_operator.controller.polling import Poller
from esml_operator.elasticsearch.client import ElasticsearchClient
from esml_operator.elasticsearch.models import ClusterInfo, EsVersion

from .fakes import FakeES, es_json

STATS = "/_ml/trained_models/_all/_stats"
ENDPOINTS = "/_inference/_all"
INFO = ClusterInfo(EsVersion(9, 2, 0), cluster_uuid="u")


def stats(*deployments: str) -> dict[str, Any]:
    entries: list[dict[str, Any]] = [
        {"model_id": "m", "deployment_stats": {"deployment_id": d, "model_id": "m", "state": "started"}}
        for d in deployments
    ]
    return {"count": len(entries), "trained_model_stats": entries}


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


async def test_the_list_is_fetched_again_only_when_it_may_have_changed(fake: FakeES, es: ElasticsearchClient) -> None:
    fake.route("GET", ENDPOINTS, es_json(200, {"endpoints": []}))
    fake.route("GET", STATS, es_json(200, stats("a")))
    clock = Clock()
    poller = Poller(max_age=300.0, clock=clock)

    def listings() -> int:
        return sum(1 for r in fake.requests if r.url.path == ENDPOINTS)

    await poller.poll(es, INFO)
    await poller.poll(es, INFO)
    assert listings() == 1  # steady: one request per poll
    fake.route("GET", STATS, es_json(200, stats("a", "b")))  # a deployment appeared (an endpoint may own it)
    await poller.poll(es, INFO)
    assert listings() == 2
    poller.forget_endpoints(es)  # the operator changed an endpoint
    await poller.poll(es, INFO)
    assert listings() == 3
    clock.now += 300.0  # and at least every max_age
    await poller.poll(es, INFO)
    assert listings() == 4


async def test_clusters_without_the_api_are_never_asked(fake: FakeES, es: ElasticsearchClient) -> None:
    fake.route("GET", STATS, es_json(200, stats("a")))
    await Poller().poll(es, ClusterInfo(EsVersion(8, 10, 0)))
    assert [r.url.path for r in fake.requests] == [STATS]
