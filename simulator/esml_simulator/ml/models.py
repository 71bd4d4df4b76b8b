"""Stored trained models: configs, definition parts and vocabularies."""

from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass, field
from typing import Any

from esml_simulator.errors import EsError, no_model, status_exception

MIB = 1024 * 1024
#: 240 MiB + 2 x model size: the default native-memory estimate of a pytorch model.
BASE_NATIVE_MEMORY = 240 * MIB
LANG_IDENT = "lang_ident_model_1"
MODEL_ID_PATTERN = re.compile(r"^[a-z0-9](?:[a-z0-9_\-\.]*[a-z0-9])?$")
DEFAULT_MODEL_BYTES = 265_632_637

DEFAULT_NER_CONFIG: dict[str, Any] = {
    "ner": {
        "tokenization": {
            "bert": {
                "do_lower_case": False,
                "with_special_tokens": True,
                "max_sequence_length": 512,
                "truncate": "first",
                "span": -1,
            }
        },
        "classification_labels": ["O", "B_MISC", "I_MISC", "B_PER", "I_PER", "B_ORG", "I_ORG", "B_LOC", "I_LOC"],
        "results_field": "predicted_value",
    }
}


@dataclass
class TrainedModel:
    model_id: str
    model_type: str
    config: dict[str, Any]
    create_time_ms: int
    created_by: str = "api_user"
    total_parts: int | None = None
    total_definition_length: int | None = None
    parts: dict[int, int] = field(default_factory=dict)
    has_vocabulary: bool = False
    downloading: bool = False
    builtin: bool = False

    @property
    def size_bytes(self) -> int:
        if self.total_definition_length is not None:
            return self.total_definition_length
        return int(self.config.get("model_size_bytes", 0) or 0)

    @property
    def definition_status(self) -> str:
        """``missing`` (no definition docs), ``truncated`` or ``complete``."""
        if self.builtin or self.model_type != "pytorch":
            return "complete"
        if not self.parts or self.total_parts is None:
            return "missing"
        if set(self.parts) != set(range(self.total_parts)):
            return "truncated"
        if sum(self.parts.values()) != self.total_definition_length:
            return "truncated"
        return "complete"

    @property
    def per_deployment_memory_bytes(self) -> int:
        return int(self.config.get("per_deployment_memory_bytes", 0) or 0)

    @property
    def per_allocation_memory_bytes(self) -> int:
        return int(self.config.get("per_allocation_memory_bytes", 0) or 0)

    def required_native_memory(self, allocations: int = 1) -> int:
        if self.model_type != "pytorch":
            return 0
        base = BASE_NATIVE_MEMORY + 2 * self.size_bytes
        if self.per_deployment_memory_bytes or self.per_allocation_memory_bytes:
            estimate = (
                self.per_deployment_memory_bytes + self.per_allocation_memory_bytes * allocations + self.size_bytes
            )
            return max(base, estimate)
        return base

    def render(self, version: str, include: set[str]) -> dict[str, Any]:
        out: dict[str, Any] = {
            "model_id": self.model_id,
            "model_type": self.model_type,
            "created_by": self.created_by,
            "version": self.config.get("version", version),
            "create_time": self.create_time_ms,
            "model_size_bytes": self.size_bytes,
            "estimated_operations": int(self.config.get("estimated_operations", 0) or 0),
            "license_level": "basic" if self.builtin else "platinum",
        }
        for key in (
            "description",
            "tags",
            "metadata",
            "input",
            "inference_config",
            "model_package",
            "platform_architecture",
            "prefix_strings",
        ):
            if key in self.config:
                out[key] = self.config[key]
        out.setdefault("tags", [])
        if self.model_type == "pytorch":
            out["location"] = {"index": {"name": ".ml-inference-native-000002"}}
        if "definition_status" in include:
            out["fully_defined"] = self.definition_status == "complete"
        return out

    def dump(self) -> dict[str, Any]:
        return {
            "model_id": self.model_id,
            "model_type": self.model_type,
            "config": self.config,
            "create_time_ms": self.create_time_ms,
            "created_by": self.created_by,
            "total_parts": self.total_parts,
            "total_definition_length": self.total_definition_length,
            "parts": {str(k): v for k, v in self.parts.items()},
            "has_vocabulary": self.has_vocabulary,
            "downloading": self.downloading,
        }

    @staticmethod
    def load(data: dict[str, Any]) -> TrainedModel:
        return TrainedModel(
            model_id=data["model_id"],
            model_type=data["model_type"],
            config=dict(data["config"]),
            create_time_ms=int(data["create_time_ms"]),
            created_by=data.get("created_by", "api_user"),
            total_parts=data.get("total_parts"),
            total_definition_length=data.get("total_definition_length"),
            parts={int(k): int(v) for k, v in (data.get("parts") or {}).items()},
            has_vocabulary=bool(data.get("has_vocabulary")),
            downloading=bool(data.get("downloading")),
        )


def lang_ident_model() -> TrainedModel:
    return TrainedModel(
        model_id=LANG_IDENT,
        model_type="lang_ident",
        config={
            "version": "7.6.0",
            "description": "Model used for identifying language from arbitrary input text.",
            "tags": ["lang_ident", "prepackaged"],
            "input": {"field_names": ["text"]},
            "inference_config": {
                "classification": {
                    "num_top_classes": 0,
                    "top_classes_results_field": "top_classes",
                    "results_field": "predicted_value",
                    "num_top_feature_importance_values": 0,
                }
            },
            "model_size_bytes": 1053992,
            "estimated_operations": 39629,
        },
        create_time_ms=1575548914594,
        created_by="_xpack",
        builtin=True,
    )


def preloaded_model(model_id: str, size_bytes: int, now_ms: int) -> TrainedModel:
    """A fully defined pytorch model (config + complete definition + vocabulary)."""
    return TrainedModel(
        model_id=model_id,
        model_type="pytorch",
        config={
            "description": f"Preloaded by the simulator: {model_id}",
            "tags": [],
            "input": {"field_names": ["text_field"]},
            "inference_config": DEFAULT_NER_CONFIG,
        },
        create_time_ms=now_ms,
        total_parts=1,
        total_definition_length=size_bytes,
        parts={0: size_bytes},
        has_vocabulary=True,
    )


def is_wildcard(expression: str) -> bool:
    return "*" in expression or expression == "_all"


def split_ids(expression: str | None) -> list[str]:
    if expression is None or expression.strip() in ("", "_all", "*"):
        return ["_all"]
    return [part.strip() for part in expression.split(",") if part.strip()]


def matches(token: str, candidate: str) -> bool:
    if token in ("_all", "*"):
        return True
    if "*" in token:
        return fnmatch.fnmatchcase(candidate, token.replace("[", "[[]"))
    return token == candidate


class ModelStore:
    def __init__(self) -> None:
        self.models: dict[str, TrainedModel] = {LANG_IDENT: lang_ident_model()}
        #: model alias -> model id
        self.aliases: dict[str, str] = {}

    def reset(self) -> None:
        self.models = {LANG_IDENT: lang_ident_model()}
        self.aliases = {}

    def resolve(self, token: str) -> str:
        """A model alias names its model; anything else names itself."""
        return self.aliases.get(token, token)

    def get(self, model_id: str) -> TrainedModel | None:
        return self.models.get(model_id)

    def expand(self, expression: str | None, allow_no_match: bool) -> list[TrainedModel]:
        """Resolve ids, comma lists and wildcards; missing explicit ids are a 404."""
        tokens = split_ids(expression)
        found: dict[str, TrainedModel] = {}
        missing: list[str] = []
        for token in map(self.resolve, tokens):
            hits = [m for m in self.models.values() if matches(token, m.model_id)]
            if not hits and (not is_wildcard(token) or not allow_no_match):
                missing.append(token)
            for hit in hits:
                found[hit.model_id] = hit
        if missing:
            raise no_model(",".join(missing))
        return [found[k] for k in sorted(found)]

    def add(self, model: TrainedModel) -> None:
        self.models[model.model_id] = model

    def require(self, model_id: str) -> TrainedModel:
        model = self.models.get(model_id)
        if model is None:
            raise no_model(model_id)
        return model


def validate_model_id(model_id: str) -> None:
    if len(model_id) > 64:
        raise EsError(
            400,
            "action_request_validation_exception",
            f"Validation Failed: 1: Invalid model_id; '{model_id}' cannot contain more than 64 characters.;",
        )
    if not MODEL_ID_PATTERN.match(model_id):
        raise EsError(
            400,
            "action_request_validation_exception",
            f"Validation Failed: 1: Invalid model_id; '{model_id}' can contain lowercase alphanumeric (a-z and "
            "0-9), hyphens or underscores; must start and end with alphanumeric;",
        )


def cannot_deploy(model: TrainedModel) -> EsError:
    return status_exception(
        400,
        f"model [{model.model_id}] of type [{model.model_type}] cannot be deployed. "
        "Only PyTorch models can be deployed",
    )
