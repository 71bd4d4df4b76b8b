"""Inference load parsed from a ``_stats`` deployment entry, as Elasticsearch renders it (fact sheet §3.2)."""

from __future__ import annotations

from typing import Any

from esml_operator.elasticsearch.load import InferenceLoad, parse_load
from esml_operator.elasticsearch.parsing import parse_stats_page


def _node(node_id: str, **values: Any) -> dict[str, Any]:
    return {
        "node": {node_id: {"name": f"name-{node_id}"}},
        "routing_state": {"routing_state": "started"},
        "peak_throughput_per_minute": 0,
        "throughput_last_minute": 0,
        **values,
    }


def test_node_values_are_summed_and_the_average_weighted_by_each_nodes_count() -> None:
    stats = {
        "deployment_id": "d",
        "model_id": "m",
        "peak_throughput_per_minute": 300,
        "inference_count": 1001,
        "rejected_execution_count": 5,
        "timeout_count": 2,
        "error_count": 3,
        "nodes": [
            _node(
                "a",
                inference_count=601,
                average_inference_time_ms=40.0,
                number_of_pending_requests=4,
                throughput_last_minute=72,
            ),
            _node(
                "b",
                inference_count=400,
                average_inference_time_ms=50.0,
                number_of_pending_requests=3,
                throughput_last_minute=48,
            ),
        ],
    }
    load = parse_load(stats)
    assert load.pending_requests == 7
    assert load.inference_count == 1001
    assert load.average_inference_time_ms == (601 * 40.0 + 400 * 50.0) / 1001
    assert load.throughput_last_minute == 120
    assert load.peak_throughput_per_minute == 300
    assert (load.rejected_execution_count, load.timeout_count, load.error_count) == (5, 2, 3)


def test_sums_elasticsearch_omits_when_zero_fall_back_to_the_nodes() -> None:
    # The deployment level carries inference_count & co only when > 0; the nodes are then summed (to 0 here).
    stats = {"deployment_id": "d", "model_id": "m", "peak_throughput_per_minute": 0, "nodes": [_node("a")]}
    assert parse_load(stats) == InferenceLoad()
    with_nodes_only = {"nodes": [_node("a", timeout_count=2), _node("b", timeout_count=1, error_count=4)]}
    load = parse_load(with_nodes_only)
    assert (load.timeout_count, load.error_count) == (3, 4)


def test_no_inference_yet_means_no_average() -> None:
    stats = {"nodes": [_node("a", inference_count=0), _node("b")]}
    assert parse_load(stats).average_inference_time_ms is None


def test_values_of_the_wrong_type_are_ignored_not_fatal() -> None:
    stats = {
        "inference_count": "many",
        "peak_throughput_per_minute": -1,
        "nodes": [
            _node("a", number_of_pending_requests=True, inference_count=3, average_inference_time_ms="slow"),
            "not an object",
            _node("b", number_of_pending_requests=2.5, throughput_last_minute=6),
        ],
    }
    load = parse_load(stats)
    assert load == InferenceLoad(inference_count=3, throughput_last_minute=6)


def test_the_stats_parser_attaches_the_load_to_each_deployment() -> None:
    body = {
        "count": 1,
        "trained_model_stats": [
            {
                "model_id": "m",
                "deployment_stats": {
                    "deployment_id": "d",
                    "model_id": "m",
                    "state": "started",
                    "peak_throughput_per_minute": 9,
                    "nodes": [_node("a", number_of_pending_requests=11)],
                },
            },
        ],
    }
    _, _, deployments = parse_stats_page(body)
    assert deployments[0].load.pending_requests == 11
    assert deployments[0].load.peak_throughput_per_minute == 9
