"""Parsing inference endpoint configs the way the ``elasticsearch`` service does ("Create inference API")."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from esml_simulator.errors import EsError, illegal_argument, status_exception, validation_failed
from esml_simulator.ml.builtin_models import ELSER, ELSER_X86
from esml_simulator.ml.inference.endpoints import CHUNKED_TASK_TYPES, DEFAULT_CHUNKING, SERVICE_TASK_TYPES, TASK_TYPES
from esml_simulator.ml.state import AdaptiveSettings
from esml_simulator.versions import EsVersion

SCOPE = "service_settings"
ADAPTIVE_KEYS = ("enabled", "min_number_of_allocations", "max_number_of_allocations")


def java(value: object) -> str:
    """Java's ``toString`` of a parsed JSON value (``{a=1, b=[x, y]}``), as error texts print request maps."""
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}={java(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(java(v) for v in value) + "]"
    if isinstance(value, bool):
        return "true" if value else "false"
    return "null" if value is None else str(value)


def parse_task_type(value: object) -> str:
    text = str(value).strip().lower()
    if text not in TASK_TYPES:
        raise status_exception(400, f"Unknown task_type [{value}]")
    return text


def resolve_task_type(path_value: str | None, body_value: object) -> str:
    """``ServiceUtils.resolveTaskType``: the path and the body must agree; one of them is required."""
    if path_value is None and body_value is None:
        raise status_exception(400, "model is missing required setting [task_type]")
    if path_value is not None and body_value is not None and str(body_value) != path_value:
        raise status_exception(
            400,
            "Cannot resolve conflicting task_type parameter in the request URL "
            f"[{path_value}] and the request body [{body_value}]",
        )
    return parse_task_type(path_value if path_value is not None else body_value)


def unknown_settings(settings: dict[str, Any], service: str) -> EsError:
    return status_exception(
        400, f"Configuration contains settings [{java(settings)}] unknown to the [{service}] service"
    )


def check_service(version: EsVersion, body: dict[str, Any], license_name: str) -> str:
    """Step 3: the requested service name (``elasticsearch`` or ``elser``)."""
    if "service" not in body or body["service"] is None:
        raise status_exception(400, "Inference endpoint configuration is missing the [service] setting")
    service = str(body["service"])
    known = ("elasticsearch", "elser") if version.has_elasticsearch_service else ("elser",)
    if service not in known:
        raise status_exception(400, f"Unknown service [{service}]")
    if license_name not in ("platinum", "enterprise", "trial"):
        raise EsError(
            403,
            "security_exception",
            "current license is non-compliant for [inference]",
            extra={"license.expired.feature": "inference"},
        )
    return service


@dataclass
class EndpointSpec:
    """A parsed PUT body: an owning endpoint (``model_id``) or an attached one (``deployment_id``)."""

    service: str
    task_type: str
    model_id: str | None
    num_threads: int | None = None
    num_allocations: int | None = None
    adaptive: dict[str, Any] | None = None
    deployment_id: str | None = None
    task_settings: dict[str, Any] = field(default_factory=dict)
    chunking_settings: dict[str, Any] | None = None


def positive_int(settings: dict[str, Any], key: str, errors: list[str], *, required: bool) -> int | None:
    if key not in settings or settings[key] is None:
        settings.pop(key, None)
        if required:
            errors.append(f"[{SCOPE}] does not contain the required setting [{key}]")
        return None
    raw = settings.pop(key)
    if isinstance(raw, bool) or not isinstance(raw, int):
        errors.append(
            f"field [{key}] is not of the expected type. The value [{java(raw)}] cannot be converted to a [Integer]"
        )
        return None
    if raw < 1:
        errors.append(f"[{SCOPE}] Invalid value [{raw}]. [{key}] must be a positive integer")
        return None
    return raw


def parse_adaptive(settings: dict[str, Any], errors: list[str]) -> dict[str, Any] | None:
    """Remove ``adaptive_allocations`` from ``service_settings``: the keys as sent (type-checked), or None."""
    raw = settings.pop("adaptive_allocations", None)
    if raw is None:
        return None
    if not isinstance(raw, dict):
        errors.append(
            f"field [adaptive_allocations] is not of the expected type. The value [{java(raw)}] cannot be "
            "converted to a [Map]"
        )
        return None
    out: dict[str, Any] = {}
    for key, value in raw.items():
        if key not in ADAPTIVE_KEYS:
            errors.append(f"[adaptive_allocations] does not allow the setting [{key}]")
            continue
        wanted = bool if key == "enabled" else int
        if value is not None and (not isinstance(value, wanted) or (wanted is int and isinstance(value, bool))):
            errors.append(f"field [{key}] is not of the expected type. The value [{java(value)}] cannot be converted")
            continue
        out[key] = value
    return out


def adaptive_object(sent: dict[str, Any], errors: list[str]) -> dict[str, Any]:
    """Validate adaptive settings (the ML rules) and return their stored form (``enabled`` first)."""
    settings = AdaptiveSettings(
        sent.get("enabled"), sent.get("min_number_of_allocations"), sent.get("max_number_of_allocations")
    )
    errors.extend(settings.validation_errors())
    return settings.render()


def parse_put(version: EsVersion, requested: str, task_type: str, body: dict[str, Any]) -> EndpointSpec:
    """Step 5 for the ``elasticsearch``/``elser`` service (model and deployment checks need the cluster)."""
    if task_type not in SERVICE_TASK_TYPES[requested]:
        raise status_exception(400, f"The [{requested}] service does not support task type [{task_type}]")
    config = {k: v for k, v in body.items() if k not in ("service", "task_type")}
    raw_settings = config.pop("service_settings", None)
    if not isinstance(raw_settings, dict):
        raise status_exception(400, "Missing required field [service_settings]")
    settings = dict(raw_settings)
    task_settings = config.pop("task_settings", None) or {}
    chunking = config.pop("chunking_settings", None) if version.has_inference_endpoints_816 else None
    stored = "elasticsearch" if requested == "elser" and version.has_inference_endpoints_816 else requested
    spec = EndpointSpec(stored, task_type, None)
    deployment_id = settings.pop("deployment_id", None) if version.has_inference_endpoints_816 else None
    model_id = settings.pop("model_id", None)
    if deployment_id is not None:
        spec.deployment_id, spec.model_id = str(deployment_id), None if model_id is None else str(model_id)
        for key in ("num_threads", "num_allocations", "adaptive_allocations"):
            settings.pop(key, None)  # copied from the deployment instead
    else:
        spec.model_id = _model_id(requested, model_id)
        errors: list[str] = []
        spec.num_allocations = positive_int(settings, "num_allocations", errors, required=False)
        spec.num_threads = positive_int(settings, "num_threads", errors, required=True)
        sent = parse_adaptive(settings, errors) if version.has_inference_endpoints_816 else None
        spec.adaptive = None if sent is None else adaptive_object(sent, errors)
        if version.has_inference_endpoints_816 and spec.num_allocations is None and spec.adaptive is None:
            errors.append(
                f"[{SCOPE}] does not contain one of the required settings [num_allocations, adaptive_allocations]"
            )
        elif not version.has_inference_endpoints_816 and spec.num_allocations is None and not errors:
            errors.append(f"[{SCOPE}] does not contain the required setting [num_allocations]")
        if errors:
            raise validation_failed(errors, "validation_exception")
    if settings:
        raise unknown_settings(settings, requested)
    spec.task_settings = _task_settings(task_type, task_settings, requested)
    if config:
        raise unknown_settings(config, requested)
    if chunking is not None and not isinstance(chunking, dict):
        raise status_exception(400, "Unable to parse [chunking_settings] in the request")
    if version.has_inference_endpoints_816 and task_type in CHUNKED_TASK_TYPES:
        spec.chunking_settings = dict(chunking) if chunking else dict(DEFAULT_CHUNKING)
    return spec


def _model_id(requested: str, raw: object) -> str:
    if raw is None:
        if requested == "elser":
            return ELSER_X86  # the ELSER v2 variant for the (linux-x86_64) platform
        raise illegal_argument("Error parsing service settings, model_id must be provided")
    model_id = str(raw)
    if requested == "elser" and model_id not in (ELSER, ELSER_X86):
        raise illegal_argument(
            "Error parsing request config, model id does not match any models available on this platform. "
            f"Was [{model_id}]"
        )
    return model_id


def _task_settings(task_type: str, raw: object, service: str) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise status_exception(400, "Unable to parse [task_settings] in the request")
    settings = dict(raw)
    out: dict[str, Any] = {}
    if task_type == "rerank":
        value = settings.pop("return_documents", True)
        out["return_documents"] = bool(value)
    if settings:
        raise unknown_settings(settings, service)
    return out
