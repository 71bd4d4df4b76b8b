"""Every request the client sends is named by an operation and a status class (the metrics' labels)."""

from __future__ import annotations

import pytest

from esml_operator.elasticsearch.operations import operation_of, status_class


@pytest.mark.parametrize(
    ("method", "path", "operation"),
    [
        ("GET", "/", "info"),
        ("GET", "/_ml/trained_models/_all/_stats", "stats"),
        ("GET", "/_ml/trained_models/_all/_stats?from=0&size=100", "stats"),
        ("POST", "/_ml/trained_models/my-model/deployment/_start", "start"),
        ("POST", "/_ml/trained_models/my-deployment/deployment/_update", "update"),
        ("POST", "/_ml/trained_models/my-deployment/deployment/_stop", "stop"),
        ("GET", "/_inference/_all", "inference_list"),
        ("GET", "/_inference/sparse_embedding/my-elser", "inference_get"),
        ("PUT", "/_inference/sparse_embedding/my-elser", "inference_put"),
        ("PUT", "/_inference/sparse_embedding/my-elser/_update", "inference_update"),
        ("DELETE", "/_inference/sparse_embedding/my-elser", "inference_delete"),
        ("POST", "/_inference/sparse_embedding/my-elser", "inference"),
        ("GET", "/_ml/info", "ml_info"),
        ("GET", "/_ml/memory/_stats", "ml_memory_stats"),
        ("GET", "/_ml/memory/node-1/_stats", "ml_memory_stats"),
        ("GET", "/_security/_authenticate", "other"),
        ("POST", "/_ml/trained_models/m/deployment/_infer", "other"),
    ],
)
def test_operation_of(method: str, path: str, operation: str) -> None:
    assert operation_of(method, path) == operation


@pytest.mark.parametrize(
    ("status", "expected"), [(200, "2xx"), (201, "2xx"), (404, "4xx"), (429, "4xx"), (503, "5xx"), (None, "error")]
)
def test_status_class(status: int | None, expected: str) -> None:
    assert status_class(status) == expected
