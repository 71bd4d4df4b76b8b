"""The ``_stats`` poll asks Elasticsearch only for what the operator reads (``filter_path``).

The parsers must find the same things in the filtered page as in the whole one. Elasticsearch's
``filter_path`` is applied with the simulator's implementation, which follows Elasticsearch's rules (a
field whose children were all left out goes too, and so does an empty list).
"""

from __future__ import annotations

import copy
import json
from typing import Any

from esml_operator.elasticsearch.client import STATS_FILTER, ElasticsearchClient, _stats_page_and_memory
from esml_simulator.rest.app import filter_path

from .fakes import FakeES, es_json, node_entry, stats_entry

STATS = "/_ml/trained_models/_all/_stats"


def _busy(entry: dict[str, Any], *, pending: int, count: int, average: float) -> dict[str, Any]:
    entry.update(
        {
            "inference_count": count,
            "average_inference_time_ms": average,
            "number_of_pending_requests": pending,
            "throughput_last_minute": count // 10,
            "rejected_execution_count": 1,
            "timeout_count": 2,
            "error_count": 3,
            "peak_throughput_per_minute": count // 5,
        }
    )
    return entry


def _page() -> dict[str, Any]:
    """A page with what a user's cluster shows: busy and idle routes, a failed route with its reason, a starting
    deployment, adaptive allocations, deployment-level sums, a failed deployment, models without deployments and
    an entry from before 8.8 (no ``deployment_id``)."""
    busy = stats_entry(
        "e5",
        "e5-search",
        allocations=3,
        nodes=[
            _busy(node_entry("nodeA", "ml-a", allocations=2), pending=4, count=1200, average=12.5),
            _busy(node_entry("nodeB", "ml-b", allocations=1), pending=1, count=300, average=20.0),
            node_entry("nodeC", "ml-c", state="failed", allocations=None, reason="process crashed"),
        ],
        adaptive={"enabled": True, "min_number_of_allocations": 1, "max_number_of_allocations": 8},
    )
    busy["deployment_stats"].update({"inference_count": 1500, "error_count": 3, "reason": "one route failed"})
    starting = stats_entry(
        "elser", "elser-ingest", state="starting", nodes=[node_entry("nodeA", "ml-a", state="starting")]
    )
    failed = stats_entry("ner", "ner", state="failed", nodes=[])
    failed["deployment_stats"]["reason"] = "the model could not be loaded"
    old = stats_entry("old-model", nodes=[node_entry("nodeB", "ml-b")])
    old["deployment_stats"].pop("deployment_id", None)
    entries = [busy, starting, failed, old, stats_entry("idle-model", deployed=False)]
    return {"count": len(entries), "trained_model_stats": entries}


def _parsed(body: dict[str, Any]) -> Any:
    return _stats_page_and_memory(copy.deepcopy(body))


def test_the_parsers_find_everything_they_read_in_the_filtered_page() -> None:
    whole = _page()
    filtered = filter_path(copy.deepcopy(whole), STATS_FILTER)
    page = _parsed(whole)
    assert _parsed(filtered) == page
    assert len(page.deployments) == 4 and page.model_memory and len(page.members) == 3  # something in each part
    loads = {d.deployment_id: d.load for d in page.deployments}
    assert loads["e5-search"].pending_requests == 5 and loads["e5-search"].inference_count == 1500
    assert len(json.dumps(filtered)) < 0.7 * len(json.dumps(whole))  # and the rest is left out (busy routes keep most)


def test_an_empty_page_filtered_is_an_empty_page() -> None:
    filtered = filter_path({"count": 0, "trained_model_stats": []}, STATS_FILTER)
    assert filtered == {"count": 0}  # Elasticsearch leaves the empty list out
    assert tuple(_parsed(filtered)) == (0, (), (), {}, frozenset())


async def test_every_page_is_asked_for_with_the_filter(fake: FakeES, es: ElasticsearchClient) -> None:
    page = _page()
    fake.route(
        "GET", STATS, lambda request: es_json(200, filter_path(copy.deepcopy(page), request.url.params["filter_path"]))
    )
    snapshot = await es.stats_snapshot(page_size=2)
    assert {r.url.params["filter_path"] for r in fake.requests} == {STATS_FILTER}
    assert [r.url.params["from"] for r in fake.requests] == ["0", "2", "4"]
    assert sorted(snapshot.deployments) == ["e5-search", "elser-ingest", "ner", "old-model"]


def test_the_filter_fits_in_elasticsearchs_request_line() -> None:
    # http.max_initial_line_length is 4 KB by default; the path and the paging parameters need the rest.
    assert len(STATS_FILTER) < 3000
