"""The bodies of ``GET _ml/info`` and ``GET _ml/memory/_stats`` (shapes as Elasticsearch writes them)."""

from __future__ import annotations

from typing import Any

from esml_simulator.ml.capacity import Limits, NodeMemory
from esml_simulator.ml.render import node_info
from esml_simulator.units import human_bytes
from esml_simulator.versions import EsVersion

#: Elasticsearch's defaults for anomaly detection jobs and datafeeds (the simulator runs neither).
_DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_MONTHS = tuple(
    "January February March April May June July August September October November December".split()  # noqa: SIM905
)
#: Day and month names, their 3-letter forms, and two zone names (the categorization stop words).
_CATEGORIZATION_STOPWORDS = [*_DAYS, *(d[:3] for d in _DAYS), *_MONTHS, *(m[:3] for m in _MONTHS), "GMT", "UTC"]
#: Share of the JVM heap the inference model cache may use (``xpack.ml.model_inference_cache.size``).
JAVA_INFERENCE_SHARE = 0.4


def _defaults() -> dict[str, Any]:
    analyzer = {
        "char_filter": ["first_line_with_letters"],
        "tokenizer": "ml_standard",
        "filter": [
            {"type": "stop", "stopwords": _CATEGORIZATION_STOPWORDS},
            {"type": "limit", "max_token_count": "100"},
        ],
    }
    return {
        "anomaly_detectors": {
            "categorization_analyzer": analyzer,
            "model_memory_limit": "1gb",
            "categorization_examples_limit": 4,
            "model_snapshot_retention_days": 10,
            "daily_model_snapshot_retention_after_days": 1,
        },
        "datafeeds": {"scroll_size": 1000},
    }


def info_body(version: EsVersion, limits: Limits) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if limits.max_single_ml_node_processors is not None and version.has_processor_limits:
        out["max_single_ml_node_processors"] = limits.max_single_ml_node_processors
    if limits.total_ml_processors is not None and version.has_processor_limits:
        out["total_ml_processors"] = limits.total_ml_processors
    if limits.effective_max_model_memory_limit_mb is not None:
        out["effective_max_model_memory_limit"] = f"{limits.effective_max_model_memory_limit_mb}mb"
    out["total_ml_memory"] = f"{limits.total_ml_memory_mb}mb"
    return {
        "defaults": _defaults(),
        "upgrade_mode": False,
        "native_code": {"version": str(version), "build_hash": version.build_hash[:14]},
        "limits": out,
    }


def _bytes(out: dict[str, Any], name: str, value: int, human: bool) -> None:
    """``humanReadableField``: the readable form first (with ``?human``), then ``{name}_in_bytes``."""
    if human:
        out[name] = human_bytes(value)
    out[f"{name}_in_bytes"] = value


def memory_node(mem: NodeMemory, version: EsVersion, human: bool) -> dict[str, Any]:
    node = mem.node
    described = node_info(node, version)[node.id]
    heap = node.memory // 4
    memory: dict[str, Any] = {}
    _bytes(memory, "total", node.memory, human)
    _bytes(memory, "adjusted_total", node.memory, human)
    ml: dict[str, Any] = {}
    _bytes(ml, "max", mem.ml_max, human)
    _bytes(ml, "native_code_overhead", mem.native_code_overhead, human)
    _bytes(ml, "anomaly_detectors", 0, human)
    _bytes(ml, "data_frame_analytics", 0, human)
    _bytes(ml, "native_inference", mem.native_inference, human)
    memory["ml"] = ml
    jvm: dict[str, Any] = {}
    _bytes(jvm, "heap_max", heap, human)
    _bytes(jvm, "java_inference_max", int(heap * JAVA_INFERENCE_SHARE), human)
    _bytes(jvm, "java_inference", 0, human)
    return {
        "name": described["name"],
        "ephemeral_id": described["ephemeral_id"],
        "transport_address": described["transport_address"],
        "attributes": {k: v for k, v in described["attributes"].items() if k.startswith("ml.")},
        "roles": described["roles"],
        "mem": memory,
        "jvm": jvm,
    }


def memory_body(cluster_name: str, nodes: list[NodeMemory], version: EsVersion, human: bool) -> dict[str, Any]:
    return {
        "_nodes": {"total": len(nodes), "successful": len(nodes), "failed": 0},
        "cluster_name": cluster_name,
        "nodes": {m.node.id: memory_node(m, version, human) for m in nodes},
    }
