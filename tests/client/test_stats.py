from __future__ import annotations

import httpx
import pytest

from esml_operator.elasticsearch import errors as e
from esml_operator.elasticsearch.client import ElasticsearchClient
from esml_operator.elasticsearch.models import (
    AdaptiveAllocations,
    AllocationStatus,
    DeploymentStats,
    NodeRoute,
)

from .fakes import FakeES, es_error, es_json, node_entry, stats_entry

STATS = "/_ml/trained_models/_all/_stats"
# A paging bug would loop forever against a fake that always answers: fail fast instead.
pytestmark = pytest.mark.timeout(10)


async def test_single_page_realistic_payload(fake: FakeES, es: ElasticsearchClient) -> None:
    body = {
        "count": 3,
        "trained_model_stats": [
            stats_entry("lang_ident_model_1", deployed=False),
            stats_entry(
                "my-model",
                nodes=[
                    node_entry("Aa1nodeId", "es-ml-0", allocations=2),
                    node_entry("Bb2nodeId", "es-ml-1", state="starting", reason=""),
                ],
                allocations=3,
                adaptive={"enabled": True, "min_number_of_allocations": 0, "max_number_of_allocations": 4},
            ),
            stats_entry("undeployed", deployed=False),
        ],
    }
    fake.route("GET", STATS, es_json(200, body))
    snap = await es.stats_snapshot()
    assert snap.model_ids == frozenset({"lang_ident_model_1", "my-model", "undeployed"})
    assert list(snap.deployments) == ["my-model"]
    assert snap.deployments["my-model"] == DeploymentStats(
        deployment_id="my-model",
        model_id="my-model",
        state="started",
        reason=None,
        allocation_status=AllocationStatus(allocation_count=2, target_allocation_count=3, state="started"),
        number_of_allocations=3,
        threads_per_allocation=1,
        queue_capacity=10000,
        cache_size="1.5kb",
        priority="normal",
        start_time_ms=1716000000000,
        adaptive_allocations=AdaptiveAllocations(True, 0, 4),
        nodes=(
            NodeRoute("Aa1nodeId", "started", node_name="es-ml-0", current_allocations=2),
            NodeRoute("Bb2nodeId", "starting", node_name="es-ml-1", current_allocations=None),
        ),
    )
    assert len(fake.requests) == 1
    params = fake.last.url.params
    assert (params["from"], params["size"]) == ("0", "100")


async def test_paging_counts_models_not_entries(fake: FakeES, es: ElasticsearchClient) -> None:
    """count = 5 models; model "b" has two deployments, so page 1 holds 3 entries for 2 models."""
    pages = {
        "0": {
            "count": 5,
            "trained_model_stats": [
                stats_entry("a", deployed=False),
                stats_entry("b", "b-ingest"),
                stats_entry("b", "b-search"),
            ],
        },
        "2": {"count": 5, "trained_model_stats": [stats_entry("c"), stats_entry("d", deployed=False)]},
        "4": {"count": 5, "trained_model_stats": [stats_entry("e", "e-1")]},
    }

    def handler(request: httpx.Request) -> httpx.Response:
        assert request.url.params["size"] == "2"
        return es_json(200, pages[request.url.params["from"]])

    fake.route("GET", STATS, handler)
    snap = await es.stats_snapshot(page_size=2)
    assert [r.url.params["from"] for r in fake.requests] == ["0", "2", "4"]
    assert snap.model_ids == frozenset("abcde")
    assert sorted(snap.deployments) == ["b-ingest", "b-search", "c", "e-1"]
    assert snap.deployments["b-search"].model_id == "b"
    assert snap.deployments["e-1"].deployment_id == "e-1"


async def test_paging_stops_on_empty_page_even_if_count_grows(fake: FakeES, es: ElasticsearchClient) -> None:
    fake.route(
        "GET",
        STATS,
        [
            es_json(200, {"count": 3, "trained_model_stats": [stats_entry("a")]}),
            es_json(200, {"count": 9, "trained_model_stats": []}),
        ],
    )
    snap = await es.stats_snapshot(page_size=1)
    assert len(fake.requests) == 2
    assert snap.model_ids == frozenset({"a"})


async def test_empty_cluster(fake: FakeES, es: ElasticsearchClient) -> None:
    fake.route("GET", STATS, es_json(200, {"count": 0, "trained_model_stats": []}))
    snap = await es.stats_snapshot()
    assert snap.model_ids == frozenset()
    assert snap.deployments == {}


async def test_failed_and_stopping_deployments(fake: FakeES, es: ElasticsearchClient) -> None:
    failed = stats_entry(
        "m1",
        nodes=[node_entry("n1", "es-ml-0", state="failed", reason="process died")],
        state="failed",
    )
    failed["deployment_stats"]["reason"] = "All node routes are failed; see node route reason for details"
    stopping = stats_entry("m2", nodes=[], state="stopping")
    del stopping["deployment_stats"]["allocation_status"]
    stopping["deployment_stats"]["reason"] = "client API call"
    fake.route("GET", STATS, es_json(200, {"count": 2, "trained_model_stats": [failed, stopping]}))
    snap = await es.stats_snapshot()
    m1 = snap.deployments["m1"]
    assert m1.state == "failed"
    assert m1.nodes == (NodeRoute("n1", "failed", reason="process died", node_name="es-ml-0"),)
    m2 = snap.deployments["m2"]
    assert m2.state == "stopping"
    assert m2.allocation_status is None
    assert m2.nodes == ()
    assert m2.reason == "client API call"


async def test_pre_8_8_entries_without_deployment_id(fake: FakeES, es: ElasticsearchClient) -> None:
    entry = stats_entry("old-model")
    del entry["deployment_stats"]["deployment_id"]
    del entry["deployment_stats"]["priority"]
    fake.route("GET", STATS, es_json(200, {"count": 1, "trained_model_stats": [entry]}))
    snap = await es.stats_snapshot()
    assert snap.deployments["old-model"].deployment_id == "old-model"
    assert snap.deployments["old-model"].priority == "normal"


async def test_malformed_stats(fake: FakeES, es: ElasticsearchClient) -> None:
    fake.route("GET", STATS, es_json(200, {"count": 1, "trained_model_stats": [{"deployment_stats": {}}]}))
    with pytest.raises(e.MalformedResponseError) as caught:
        await es.stats_snapshot()
    assert "trained_model_stats[0].model_id" in str(caught.value)


async def test_a_page_that_counts_models_but_lists_none_is_malformed(fake: FakeES, es: ElasticsearchClient) -> None:
    fake.route("GET", STATS, es_json(200, {"count": 3}))  # only {"count": 0} may leave the (empty) list out
    with pytest.raises(e.MalformedResponseError) as caught:
        await es.stats_snapshot()
    assert "trained_model_stats is missing" in str(caught.value)


@pytest.mark.parametrize("size", [0, 10_001])
async def test_page_size_bounds(es: ElasticsearchClient, size: int) -> None:
    with pytest.raises(ValueError, match="page_size"):
        await es.stats_snapshot(page_size=size)


async def test_stats_forbidden(fake: FakeES, es: ElasticsearchClient) -> None:
    reason = (
        "action [cluster:monitor/xpack/ml/inference/stats/get] is unauthorized for user [viewer] with "
        "effective roles [viewer], this action is granted by the cluster privileges "
        "[monitor_ml,manage_ml,monitor,manage,all]"
    )
    fake.route("GET", STATS, es_error(403, "security_exception", reason))
    with pytest.raises(e.AuthorizationError) as caught:
        await es.stats_snapshot()
    assert str(caught.value) == (
        f"Elasticsearch rejected _stats of all trained models (403 security_exception): {reason}; "
        "the operator's credentials need the cluster privileges manage_ml (start, update, stop, stats) "
        "and monitor (GET / for the cluster version, and the list of inference endpoints), plus "
        "manage_inference for deployments that inference endpoints created (ELSER, E5) on Elasticsearch 9.2+"
    )


async def test_stats_missing_explicit_id_row_31(fake: FakeES, es: ElasticsearchClient) -> None:
    fake.route(
        "GET", STATS, es_error(404, "resource_not_found_exception", "No known trained model with model_id [_all]")
    )
    with pytest.raises(e.NotFoundError):
        await es.stats_snapshot()


async def test_the_snapshot_names_the_ml_nodes_across_pages(fake: FakeES, es: ElasticsearchClient) -> None:
    first = {
        "count": 2,
        "trained_model_stats": [stats_entry("one", nodes=[node_entry("nodeA", "ml-a"), node_entry("nodeB", "ml-b")])],
    }
    second = {"count": 2, "trained_model_stats": [stats_entry("two", nodes=[node_entry("nodeA", "ml-a")])]}
    fake.route("GET", STATS, lambda request: es_json(200, first if request.url.params["from"] == "0" else second))
    snapshot = await es.stats_snapshot(page_size=1)
    ephemeral = "Xf3kT3n5S0qS0o7YwBnQ2g"
    assert snapshot.members == {("nodeA", ephemeral, "8.15.0"), ("nodeB", ephemeral, "8.15.0")}


def test_members_are_read_leniently() -> None:
    from esml_operator.elasticsearch.parsing import parse_members

    assert parse_members({"count": 0, "trained_model_stats": []}) == frozenset()
    odd = {"trained_model_stats": [{"deployment_stats": {"nodes": [{"node": {"n": "not an object"}}, "junk"]}}, 3]}
    assert parse_members(odd) == {("n", "", "")}
    assert parse_members(["not", "a", "page"]) == frozenset()
