"""Built-in models (``.elser_model_2``, E5, rerank) created by ``PUT _ml/trained_models/<id>``: a download.

Elasticsearch accepts the PUT of an Elastic-provided model id with only an
``input`` (and optionally a description): it resolves the model package and
starts a task that downloads the definition. Until that task ends, the model
shows ``fully_defined: false`` and ``_start`` is refused with 408 (the text is
Elasticsearch's). The simulator's download takes :data:`DOWNLOAD_SECONDS` on
its clock (a simulator choice; a fake clock moves with ``/_sim/_advance``).
``wait_for_completion=true`` waits for it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from esml_simulator.errors import status_exception
from esml_simulator.ml.builtin_models import builtin_model, is_builtin

if TYPE_CHECKING:
    from esml_simulator.ml.models import ModelStore, TrainedModel

DOWNLOAD_SECONDS = 30.0
#: The fields a PUT of a built-in model may carry; anything else makes it an ordinary (invalid) model PUT.
PACKAGE_PUT_FIELDS = {"input", "description", "tags", "metadata", "model_package", "platform_architecture"}


def is_package_put(model_id: str, body: dict[str, Any]) -> bool:
    return is_builtin(model_id) and set(body) <= PACKAGE_PUT_FIELDS


def start_download(model_id: str, body: dict[str, Any], now: float) -> TrainedModel:
    model = builtin_model(model_id, int(now * 1000))
    for key in ("input", "description", "tags", "metadata"):
        if key in body:
            model.config[key] = body[key]
    model.parts = {}
    model.has_vocabulary = False
    model.downloading = True
    return model


def done_at(model: TrainedModel) -> float:
    return model.create_time_ms / 1000.0 + DOWNLOAD_SECONDS


def settle(store: ModelStore, now: float) -> None:
    """Finish the downloads whose time has come: the definition and vocabulary are then complete."""
    for model in store.models.values():
        if model.downloading and now >= done_at(model):
            size = model.total_definition_length or 0
            model.parts = {0: size}
            model.total_parts = 1
            model.has_vocabulary = True
            model.downloading = False


def refuse_start_while_downloading(model: TrainedModel) -> None:
    if model.downloading:
        raise status_exception(
            408,
            "Model download task is currently running. Wait for trained model "
            f"[{model.model_id}] download task to complete then try again",
        )
