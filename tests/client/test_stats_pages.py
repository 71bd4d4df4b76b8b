"""A ``_stats`` page that comes back byte for byte as last time is not decoded or parsed again (``PageMemo``).

A resync round reads every page of every cluster again; on a quiet cluster nothing in them changed. Reuse shows
as identity: parsing makes new objects, so the same ``DeploymentStats`` object in two snapshots means the page
was not parsed again. The request itself is always sent: only the work on its answer is saved.
"""

from __future__ import annotations

import copy
from typing import Any

import httpx
import pytest

from esml_operator.elasticsearch import errors as e
from esml_operator.elasticsearch.client import ElasticsearchClient

from .fakes import FakeES, es_json, node_entry, stats_entry

STATS = "/_ml/trained_models/_all/_stats"
pytestmark = pytest.mark.timeout(10)


def _models() -> list[dict[str, Any]]:
    return [
        stats_entry("alpha", "alpha-search", nodes=[node_entry("n1", "ml-1", allocations=2)], allocations=2),
        stats_entry("beta", "beta-ingest", nodes=[node_entry("n2", "ml-2")]),
        stats_entry("gamma", "gamma-rerank", nodes=[node_entry("n1", "ml-1"), node_entry("n2", "ml-2")], allocations=2),
    ]


def _paged(models: list[dict[str, Any]]) -> Any:
    """Answers ``from``/``size`` pages of ``models`` (read at each request, so a test can change them)."""

    def answer(request: httpx.Request) -> httpx.Response:
        start, size = int(request.url.params["from"]), int(request.url.params["size"])
        return es_json(200, {"count": len(models), "trained_model_stats": models[start : start + size]})

    return answer


async def test_an_unchanged_page_is_reused_and_still_asked_for(fake: FakeES, es: ElasticsearchClient) -> None:
    fake.route("GET", STATS, _paged(_models()))
    first = await es.stats_snapshot(page_size=2)
    second = await es.stats_snapshot(page_size=2)
    assert second == first
    assert all(second.deployments[d] is first.deployments[d] for d in first.deployments)
    assert len(fake.requests) == 4  # two pages, twice


async def test_a_changed_page_is_parsed_again_and_the_others_are_not(fake: FakeES, es: ElasticsearchClient) -> None:
    models = _models()
    fake.route("GET", STATS, _paged(models))
    first = await es.stats_snapshot(page_size=2)
    models[1] = stats_entry("beta", "beta-ingest", nodes=[node_entry("n2", "ml-2", allocations=3)], allocations=3)
    second = await es.stats_snapshot(page_size=2)
    assert second.deployments["beta-ingest"].number_of_allocations == 3
    assert first.deployments["beta-ingest"].number_of_allocations == 1
    assert second.deployments["alpha-search"] is not first.deployments["alpha-search"]  # same page as beta
    assert second.deployments["gamma-rerank"] is first.deployments["gamma-rerank"]  # page 2 unchanged


async def test_a_page_that_moved_is_parsed_where_it_now_is(fake: FakeES, es: ElasticsearchClient) -> None:
    models = _models()
    fake.route("GET", STATS, _paged(models))
    await es.stats_snapshot(page_size=2)
    del models[0]  # gamma moves from page 2 to page 1; page 2 is gone
    second = await es.stats_snapshot(page_size=2)
    assert sorted(second.deployments) == ["beta-ingest", "gamma-rerank"]
    assert second.model_ids == frozenset({"beta", "gamma"})


async def test_a_malformed_answer_after_a_good_one_is_still_an_error(fake: FakeES, es: ElasticsearchClient) -> None:
    good = {"count": 3, "trained_model_stats": _models()}
    broken = copy.deepcopy(good)
    broken["trained_model_stats"][0]["deployment_stats"]["nodes"] = "not a list"
    fake.route("GET", STATS, [es_json(200, good), es_json(200, broken), es_json(200, good)])
    first = await es.stats_snapshot()
    with pytest.raises(e.MalformedResponseError, match="nodes is not a list"):
        await es.stats_snapshot()
    third = await es.stats_snapshot()  # the good page again: the failed read left the last good one
    assert third.deployments["alpha-search"] is first.deployments["alpha-search"]


async def test_an_error_answer_with_the_same_bytes_is_never_taken_for_a_page(
    fake: FakeES, es: ElasticsearchClient
) -> None:
    body = {"count": 3, "trained_model_stats": _models()}
    fake.route("GET", STATS, [es_json(200, body), es_json(503, body)])
    await es.stats_snapshot()
    with pytest.raises(e.ApiError):
        await es.stats_snapshot()
