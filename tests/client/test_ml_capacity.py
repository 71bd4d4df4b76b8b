"""GET _ml/info and GET _ml/memory/_stats: parsed into the capacity facts, errors in the one vocabulary."""

from __future__ import annotations

import pytest

from esml_operator.elasticsearch import errors as e
from esml_operator.elasticsearch.client import ElasticsearchClient
from esml_operator.elasticsearch.ml_capacity import MlLimits, MlNodeMemory

from .fakes import FakeES, es_error, es_json

GIB = 1024**3

ML_INFO = {
    "defaults": {"anomaly_detectors": {}, "datafeeds": {}},
    "upgrade_mode": False,
    "native_code": {"version": "8.15.0", "build_hash": "abc"},
    "limits": {
        "max_single_ml_node_processors": 4,
        "total_ml_processors": 8,
        "max_model_memory_limit": "4gb",
        "effective_max_model_memory_limit": "4gb",
        "total_ml_memory": "8gb",
    },
}


def _node(name: str, roles: list[str], processors: str, used: int) -> dict[str, object]:
    return {
        "name": name,
        "roles": roles,
        "attributes": {"ml.allocated_processors": processors, "ml.allocated_processors_double": f"{processors}.0"},
        "mem": {
            "total_in_bytes": 16 * GIB,
            "adjusted_total_in_bytes": 16 * GIB,
            "ml": {
                "max_in_bytes": 4 * GIB,
                "native_code_overhead_in_bytes": 0,
                "anomaly_detectors_in_bytes": 0,
                "data_frame_analytics_in_bytes": 0,
                "native_inference_in_bytes": used,
            },
        },
    }


MEMORY_STATS = {
    "_nodes": {"total": 2, "successful": 2, "failed": 0},
    "cluster_name": "quickstart",
    "nodes": {
        "n2": _node("es-ml-1", ["ml", "remote_cluster_client"], "4", 1 * GIB),
        "n1": _node("es-ml-0", ["ml"], "4", 0),
        "d1": _node("es-data-0", ["data", "master"], "8", 0),
    },
}


async def test_ml_info_limits(fake: FakeES, es: ElasticsearchClient) -> None:
    fake.route("GET", "/_ml/info", es_json(200, ML_INFO))
    assert await es.ml_limits() == MlLimits(4, 8, "4gb", "8gb")


async def test_ml_memory_stats_lists_ml_nodes_only(fake: FakeES, es: ElasticsearchClient) -> None:
    fake.route("GET", "/_ml/memory/_stats", es_json(200, MEMORY_STATS))
    nodes = await es.ml_memory_stats()
    assert nodes == (
        MlNodeMemory("n1", "es-ml-0", 4, 4 * GIB, 0),
        MlNodeMemory("n2", "es-ml-1", 4, 4 * GIB, 1 * GIB),
    )
    assert nodes[1].free_bytes == 3 * GIB


@pytest.mark.parametrize(("path", "call"), [("/_ml/info", "ml_limits"), ("/_ml/memory/_stats", "ml_memory_stats")])
async def test_missing_privilege_is_an_authorization_error(
    fake: FakeES, es: ElasticsearchClient, path: str, call: str
) -> None:
    reason = "action [cluster:monitor/xpack/ml/info/get] is unauthorized for user [esml]"
    fake.route("GET", path, es_error(403, "security_exception", reason))
    with pytest.raises(e.AuthorizationError):
        await getattr(es, call)()


async def test_a_version_without_memory_stats_is_not_found(fake: FakeES, es: ElasticsearchClient) -> None:
    fake.route("GET", "/_ml/memory/_stats", es_error(404, "resource_not_found_exception", "no handler found"))
    with pytest.raises(e.NotFoundError):
        await es.ml_memory_stats()


async def test_a_malformed_answer_is_reported(fake: FakeES, es: ElasticsearchClient) -> None:
    fake.route("GET", "/_ml/memory/_stats", es_json(200, {"nodes": {"n1": {"roles": ["ml"], "mem": {"ml": {}}}}}))
    with pytest.raises(e.MalformedResponseError, match="max_in_bytes"):
        await es.ml_memory_stats()


async def test_the_stats_snapshot_keeps_each_models_native_memory(fake: FakeES, es: ElasticsearchClient) -> None:
    body = {
        "count": 2,
        "trained_model_stats": [
            {"model_id": "small", "model_size_stats": {"model_size_bytes": 10, "required_native_memory_bytes": 500}},
            {"model_id": "old"},  # before 8.8: no model_size_stats
        ],
    }
    fake.route("GET", "/_ml/trained_models/_all/_stats", es_json(200, body))
    snapshot = await es.stats_snapshot()
    assert snapshot.model_memory == {"small": 500}
