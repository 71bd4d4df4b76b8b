"""Elastic's built-in NLP models (ELSER v2, multilingual E5 small, Elastic Rerank) and inference-config task types.

Elasticsearch downloads a built-in model the first time an inference endpoint
names it. The simulator "downloads" it at once. Sizes are simulator choices
(the reference gives none), except that ELSER needs a fixed 2004 MiB of native
memory ("ELSER" in the Elasticsearch Guide). The simulated ML nodes are ``linux-x86_64``, so
both the portable and the ``_linux-x86_64`` variants are available.
"""

from __future__ import annotations

from typing import Any

from esml_simulator.ml.models import MIB, TrainedModel

ELSER = ".elser_model_2"
ELSER_X86 = ".elser_model_2_linux-x86_64"
E5 = ".multilingual-e5-small"
E5_X86 = ".multilingual-e5-small_linux-x86_64"
RERANK = ".rerank-v1"
ELSER_MEMORY = 2004 * MIB

#: model id -> (inference config name, definition size in bytes)
BUILTIN: dict[str, tuple[str, int]] = {
    ELSER: ("text_expansion", 438_123_914),
    ELSER_X86: ("text_expansion", 438_123_914),
    E5: ("text_embedding", 470_296_364),
    E5_X86: ("text_embedding", 470_296_364),
    RERANK: ("text_similarity", 565_012_345),
}

#: inference config name -> the inference task type it serves
TASK_OF_CONFIG = {"text_expansion": "sparse_embedding", "text_embedding": "text_embedding", "text_similarity": "rerank"}
CONFIG_OF_TASK = {task: config for config, task in TASK_OF_CONFIG.items()}


def is_builtin(model_id: str) -> bool:
    return model_id in BUILTIN


def inference_config(config_name: str) -> dict[str, Any]:
    tokenization = {"bert": {"do_lower_case": True, "with_special_tokens": True, "max_sequence_length": 512}}
    body: dict[str, Any] = {"tokenization": tokenization}
    if config_name in ("text_expansion", "text_embedding"):
        body["results_field"] = "predicted_value"
    return {config_name: body}


def builtin_model(model_id: str, now_ms: int) -> TrainedModel:
    """A downloaded built-in model: fully defined, with its vocabulary."""
    config_name, size = BUILTIN[model_id]
    config: dict[str, Any] = {
        "description": f"Elastic built-in model {model_id} (simulated)",
        "tags": ["elastic"],
        "input": {"field_names": ["text_field"]},
        "inference_config": inference_config(config_name),
        "model_package": {"packaged_model_id": model_id.lstrip(".")},
    }
    if model_id.startswith(ELSER):
        config["per_deployment_memory_bytes"] = ELSER_MEMORY - size
    return TrainedModel(
        model_id=model_id,
        model_type="pytorch",
        config=config,
        create_time_ms=now_ms,
        created_by="_xpack",
        total_parts=1,
        total_definition_length=size,
        parts={0: size},
        has_vocabulary=True,
    )


def config_name(model: TrainedModel) -> str:
    """The name of a model's inference config (``ner``, ``text_expansion``, ...)."""
    raw = model.config.get("inference_config")
    if isinstance(raw, dict) and raw:
        return str(next(iter(raw)))
    return model.model_type
