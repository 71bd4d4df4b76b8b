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


def stats(*deployments: str, started: int = 1_700_000_000_000, nodes: dict[str, tuple[str, str]] | None = None) -> Any:
    """A ``_stats`` answer: each deployment started at ``started`` and routed to every node of ``nodes``
    (node id -> (ephemeral id, version))."""
    routes = [
        {"node": {node: {"name": f"n-{node}", "ephemeral_id": eph, "version": version}}, "routing_state": {}}
        for node, (eph, version) in (nodes or {}).items()
    ]
    entries: list[dict[str, Any]] = [
        {
            "model_id": "m",
            "deployment_stats": {
                "deployment_id": d,
                "model_id": "m",
                "state": "started",
                "start_time": started,
                "nodes": [{**r, "routing_state": {"routing_state": "started"}} for r in routes],
            },
        }
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
    fake.route("GET", STATS, es_json(200, stats("a", "b", started=1_700_000_900_000)))  # started again: recreated
    await poller.poll(es, INFO)
    assert listings() == 4
    await poller.poll(es, INFO)
    assert listings() == 4
    clock.now += 300.0  # and at least every max_age
    await poller.poll(es, INFO)
    assert listings() == 5


async def test_steady_polls_cost_one_request_each_for_an_hour(fake: FakeES, es: ElasticsearchClient) -> None:
    fake.route("GET", ENDPOINTS, es_json(200, {"endpoints": []}))
    fake.route("GET", STATS, es_json(200, stats("a", nodes={"n1": ("e1", "9.2.0")})))
    clock, expired = Clock(), []
    poller = Poller(clock=clock, expire_info=expired.append)
    for _ in range(120):  # an hour of 30 s resync rounds
        await poller.poll(es, INFO)
        clock.now += 30.0
    paths = [r.url.path for r in fake.requests]
    assert paths.count(STATS) == 120 and paths.count(ENDPOINTS) == 1 and expired == []
    await poller.poll(es, INFO)  # the safety net: an hour on, the list is read again
    assert [r.url.path for r in fake.requests].count(ENDPOINTS) == 2


async def test_a_change_of_the_ml_nodes_expires_what_get_root_said(fake: FakeES, es: ElasticsearchClient) -> None:
    fake.route("GET", ENDPOINTS, es_json(200, {"endpoints": []}))
    expired: list[ElasticsearchClient] = []
    poller = Poller(expire_info=expired.append)

    async def poll(nodes: dict[str, tuple[str, str]]) -> int:
        fake.route("GET", STATS, es_json(200, stats("a", nodes=nodes)))
        await poller.poll(es, INFO)
        return len(expired)

    assert await poll({"n1": ("e1", "9.2.0"), "n2": ("e2", "9.2.0")}) == 0  # the first poll: nothing to compare
    assert await poll({"n1": ("e1", "9.2.0"), "n2": ("e2", "9.2.0"), "n3": ("e3", "9.2.0")}) == 0  # scaled out
    assert await poll({"n1": ("e1", "9.2.0")}) == 0  # moved off two nodes
    assert await poll({}) == 0  # every deployment stopped: nothing to say about the nodes
    assert await poll({"n1": ("e1", "9.2.0")}) == 0
    assert await poll({"n1": ("e1b", "9.3.0"), "n2": ("e2", "9.2.0")}) == 1  # n1 restarted (a rolling upgrade)
    assert expired == [es]
    assert await poll({"x1": ("f1", "9.2.0")}) == 2  # no node in common: another cluster behind the URL


async def test_clusters_without_the_api_are_never_asked(fake: FakeES, es: ElasticsearchClient) -> None:
    fake.route("GET", STATS, es_json(200, stats("a")))
    await Poller().poll(es, ClusterInfo(EsVersion(8, 10, 0)))
    assert [r.url.path for r in fake.requests] == [STATS]
