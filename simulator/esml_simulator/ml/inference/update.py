"""``PUT _inference/{task_type}/{inference_id}/_update`` ("Update inference API").

Three generations:

* 8.16-8.17: only an integer ``service_settings.num_allocations`` is read, and
  the deployment named after the inference id is updated.
* 8.18+ (``merge``, the default style): ``num_allocations`` and/or
  ``adaptive_allocations`` (merged into the stored object); the body task type
  is checked; attached endpoints update their ``deployment_id``. From 9.2 an
  unchanged config is a 200 without an ML call, default endpoints can still be
  updated, and attached endpoints get the 409.
* ``newest`` (a simulator setting; the release is UNCONFIRMED): exactly one of
  ``num_allocations`` or ``adaptive_allocations``, which clears the other;
  default endpoints are refused.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from esml_simulator.config import NEWEST
from esml_simulator.errors import not_found, status_exception, validation_failed
from esml_simulator.ml.deploy_ops import ABSENT, AdaptiveUpdate, update_checks, validate_update
from esml_simulator.ml.inference.endpoints import InferenceEndpoint
from esml_simulator.ml.inference.settings import (
    SCOPE,
    adaptive_object,
    java,
    parse_adaptive,
    parse_task_type,
    positive_int,
    resolve_task_type,
)

if TYPE_CHECKING:
    from esml_simulator.ml.engine import Engine


@dataclass
class UpdateBody:
    raw: str
    service_settings: dict[str, Any] | None
    task_settings: dict[str, Any] | None
    task_type: str | None


def parse_update_body(body: object, raw: str) -> UpdateBody:
    """``UpdateInferenceModelAction.Request``: only these three keys; errors are 400 ``status_exception``."""
    if not isinstance(body, dict) or not body:
        raise status_exception(400, "Request body is empty")
    rest = dict(body)
    task_type = None
    if "task_type" in rest:
        task_type = parse_task_type(rest.pop("task_type"))
    parts: dict[str, dict[str, Any] | None] = {}
    for key, label in (("service_settings", "service settings"), ("task_settings", "task settings")):
        value = rest.pop(key, None)
        if value is not None and not isinstance(value, dict):
            raise status_exception(400, f"Unable to parse {label} in the request [{java(body)}]")
        parts[key] = dict(value) if value else None
    if rest:
        raise status_exception(
            400, f"Request contained fields which cannot be updated, remove these fields and try again [{java(rest)}]"
        )
    return UpdateBody(raw, parts["service_settings"], parts["task_settings"], task_type)


async def update_endpoint(engine: Engine, inference_id: str, path_task_type: str, body: UpdateBody) -> dict[str, Any]:
    cluster, version = engine.cluster, engine.version
    cluster.advance()
    task_type = (
        path_task_type if not version.inference_update_merges else resolve_task_type(path_task_type, body.task_type)
    )
    stored = cluster.inference.get(inference_id)
    if stored is None:
        raise not_found(f"The inference endpoint [{inference_id}] does not exist and cannot be updated")
    style = engine.config.inference_update_style
    if version.inference_update_merges and style == NEWEST and stored.default:
        raise status_exception(400, f"Default endpoint [{inference_id}] cannot be updated")
    if not version.inference_update_merges:
        return _update_816(engine, stored, body)
    new, number, adaptive = _merge(stored, body.service_settings, style)
    if stored.task_type != task_type:
        raise status_exception(400, "Task type must match the task type of the existing endpoint")
    if version.endpoint_ownership_409 and (new.num_allocations, new.adaptive) == (
        stored.num_allocations,
        stored.adaptive,
    ):
        return stored.render(version)
    dep_id = stored.ml_deployment_id
    if dep_id not in cluster.deployments:
        raise _no_deployment(inference_id)
    if not stored.owns_deployment and version.endpoint_ownership_409:
        owner = cluster.inference.owner_of(dep_id)
        if owner is not None:
            raise status_exception(
                409,
                f"Cannot update inference endpoint [{inference_id}] for model deployment [{dep_id}] as it was "
                "created by another inference endpoint. The model can only be updated using inference endpoint "
                f"id [{owner.inference_id}].",
            )
        raise status_exception(
            409,
            f"Cannot update inference endpoint [{inference_id}] using model deployment [{dep_id}]. The model "
            "deployment must be updated through the trained models API.",
        )
    _ml_update(engine, dep_id, number, adaptive)
    cluster.inference.put(new)
    return new.render(version)


def _no_deployment(inference_id: str) -> Exception:
    return not_found(
        f"Requested model ID [{inference_id}] does not have a matching trained model and thus cannot be updated."
    )


def _ml_update(engine: Engine, deployment_id: str, number: int | None, adaptive: AdaptiveUpdate) -> None:
    """The ML update as the inference API sends it: ML validation and errors apply, the ownership 409 does not."""
    validate_update(number, adaptive)
    update_checks(engine.cluster, deployment_id, number, adaptive, from_inference_api=True)


def _update_816(engine: Engine, stored: InferenceEndpoint, body: UpdateBody) -> dict[str, Any]:
    number = (body.service_settings or {}).get("num_allocations")
    if isinstance(number, bool) or not isinstance(number, int):
        raise status_exception(400, f"Failed to parse [num_allocations] of update request [{body.raw}]")
    if stored.inference_id not in engine.cluster.deployments:
        raise _no_deployment(stored.inference_id)
    _ml_update(engine, stored.inference_id, number, ABSENT)
    new = stored.copy()
    new.num_allocations = number
    engine.cluster.inference.put(new)
    return new.render(engine.version)


def _merge(
    stored: InferenceEndpoint, settings: dict[str, Any] | None, style: str
) -> tuple[InferenceEndpoint, int | None, AdaptiveUpdate]:
    """The new stored config plus the ``number_of_allocations`` and ``adaptive_allocations`` the ML update gets.

    Keys other than the counts are ignored, except the fixed ones (a 400).
    """
    new = stored.copy()
    if settings is None:
        return new, None, ABSENT
    settings = dict(settings)
    errors = [
        f"[{fixed}] cannot be updated" for fixed in ("num_threads", "model_id", "deployment_id") if fixed in settings
    ]
    has_number, has_adaptive = "num_allocations" in settings, "adaptive_allocations" in settings
    number = positive_int(settings, "num_allocations", errors, required=False)
    sent = parse_adaptive(settings, errors)
    if style == NEWEST:
        if has_number and has_adaptive:
            errors.append("[num_allocations] cannot be set if [adaptive_allocations] is set")
        elif not (has_number or has_adaptive):
            errors.append(
                f"[{SCOPE}] does not contain one of the required settings [num_allocations, adaptive_allocations]"
            )
    merged = sent if style == NEWEST or sent is None else {**_as_sent(stored.adaptive), **sent}
    rendered = None if merged is None else adaptive_object(merged, errors)
    if errors:
        raise validation_failed(errors, "validation_exception")
    adaptive: AdaptiveUpdate = ABSENT
    if style == NEWEST:  # one of the two, which clears the other
        if has_number:
            new.num_allocations, new.adaptive, adaptive = number, None, None
        else:
            new.num_allocations, new.adaptive = None, rendered
            adaptive = {
                k: (sent or {}).get(k) for k in ("enabled", "min_number_of_allocations", "max_number_of_allocations")
            }
        return new, number, adaptive
    if has_number:
        new.num_allocations = number
    if sent is not None:
        new.adaptive, adaptive = rendered, dict(sent)
    return new, number, adaptive


def _as_sent(adaptive: dict[str, Any] | None) -> dict[str, Any]:
    return dict(adaptive or {})
