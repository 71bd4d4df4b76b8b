"""What Elasticsearch says about its ML capacity: ``GET _ml/info`` limits and ``GET _ml/memory/_stats`` nodes.

Typed values and their parsers (pure: no HTTP library). Both APIs need the
``monitor_ml`` cluster privilege; ``_ml/memory/_stats`` exists from 8.2.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from esml_operator.elasticsearch.parsing import ShapeError


@dataclass(frozen=True)
class MlLimits:
    """``GET _ml/info`` ``limits`` (the byte sizes as Elasticsearch writes them, e.g. ``"12gb"``)."""

    max_single_ml_node_processors: int | None = None
    total_ml_processors: int | None = None
    max_model_memory_limit: str | None = None
    total_ml_memory: str | None = None


@dataclass(frozen=True)
class MlNodeMemory:
    """One ML node of ``GET _ml/memory/_stats``: its allocated processors and native memory for ML."""

    node_id: str
    name: str | None
    processors: int | None  # node attribute ml.allocated_processors
    ml_max_bytes: int  # mem.ml.max_in_bytes: native memory ML may use on the node
    used_bytes: int  # native code overhead + anomaly detection + data frame analytics + inference

    @property
    def free_bytes(self) -> int:
        return max(self.ml_max_bytes - self.used_bytes, 0)


def _obj(value: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise ShapeError(f"{where} is not a JSON object")
    return value


def _count(value: Any, where: str) -> int | None:
    """An integer that Elasticsearch writes as a number or, in node attributes, as a string (``"4"``, ``"4.0"``)."""
    if value is None:
        return None
    if isinstance(value, bool):
        raise ShapeError(f"{where} is not a number")
    if isinstance(value, int):
        return value
    try:
        return int(float(value))
    except (TypeError, ValueError):
        raise ShapeError(f"{where} is not a number") from None


def _size(value: Any, where: str) -> str | None:
    if value is None or isinstance(value, str):
        return value
    raise ShapeError(f"{where} is not a byte size string")


def parse_model_memory(body: Any) -> dict[str, int]:
    """Each model's ``model_size_stats.required_native_memory_bytes`` in one ``_stats`` page (8.8+; models
    without it are left out). The largest figure counts when a model has several deployments."""
    found: dict[str, int] = {}
    entries = _obj(body, "response").get("trained_model_stats")
    for i, raw in enumerate(entries if isinstance(entries, list) else ()):
        entry = _obj(raw, f"trained_model_stats[{i}]")
        sizes = entry.get("model_size_stats")
        model_id = entry.get("model_id")
        if not isinstance(sizes, Mapping) or not isinstance(model_id, str):
            continue
        native = _count(sizes.get("required_native_memory_bytes"), f"trained_model_stats[{i}].model_size_stats")
        if native is not None:
            found[model_id] = max(native, found.get(model_id, 0))
    return found


def parse_ml_info(body: Any) -> MlLimits:
    limits = _obj(_obj(body, "_ml/info").get("limits", {}), "_ml/info.limits")
    return MlLimits(
        max_single_ml_node_processors=_count(limits.get("max_single_ml_node_processors"), "limits.max_single"),
        total_ml_processors=_count(limits.get("total_ml_processors"), "limits.total_ml_processors"),
        max_model_memory_limit=_size(limits.get("max_model_memory_limit"), "limits.max_model_memory_limit"),
        total_ml_memory=_size(limits.get("total_ml_memory"), "limits.total_ml_memory"),
    )


_USED_KEYS = (
    "native_code_overhead_in_bytes",
    "anomaly_detectors_in_bytes",
    "data_frame_analytics_in_bytes",
    "native_inference_in_bytes",
)


def _node(node_id: str, value: Any) -> MlNodeMemory | None:
    where = f"nodes.{node_id}"
    node = _obj(value, where)
    roles = node.get("roles", [])
    if not isinstance(roles, list) or "ml" not in roles:
        return None
    attributes = _obj(node.get("attributes", {}), f"{where}.attributes")
    ml = _obj(_obj(node.get("mem"), f"{where}.mem").get("ml"), f"{where}.mem.ml")
    ml_max = _count(ml.get("max_in_bytes"), f"{where}.mem.ml.max_in_bytes")
    if ml_max is None:
        raise ShapeError(f"{where}.mem.ml.max_in_bytes is missing")
    used = sum(_count(ml.get(key), f"{where}.mem.ml.{key}") or 0 for key in _USED_KEYS)
    name = node.get("name")
    return MlNodeMemory(
        node_id=node_id,
        name=name if isinstance(name, str) else None,
        processors=_count(attributes.get("ml.allocated_processors"), f"{where}.attributes.ml.allocated_processors"),
        ml_max_bytes=ml_max,
        used_bytes=used,
    )


def parse_ml_memory_stats(body: Any) -> tuple[MlNodeMemory, ...]:
    """The ML nodes (role ``ml``) of a ``_ml/memory/_stats`` answer, sorted by node id."""
    nodes = _obj(_obj(body, "_ml/memory/_stats").get("nodes", {}), "_ml/memory/_stats.nodes")
    parsed = (_node(str(node_id), value) for node_id, value in sorted(nodes.items()))
    return tuple(node for node in parsed if node is not None)


@dataclass(frozen=True)
class MlCapacity:
    """What one look at a cluster's ML capacity found. ``problem`` says why some numbers are missing
    (no ``monitor_ml`` privilege, or a version without the API); the rest is still usable."""

    limits: MlLimits | None = None
    nodes: tuple[MlNodeMemory, ...] | None = None
    problem: str | None = None
