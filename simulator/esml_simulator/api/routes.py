"""Elasticsearch's REST routes (version-dependent): each path's methods, handlers and fault-injection names."""

from __future__ import annotations

from esml_simulator.api import aliases, deployments, inference, misc, ml_infer, ml_info, models, read
from esml_simulator.rest.request import Handler
from esml_simulator.rest.routing import Route
from esml_simulator.rest.routing import route as _r
from esml_simulator.versions import EsVersion

TM = "/_ml/trained_models"
INF = "/_inference"
_INF_ID: dict[str, tuple[Handler, str]] = {
    "GET": (inference.prepare_get, "get_inference"),
    "PUT": (inference.prepare_put, "put_inference"),
    "DELETE": (inference.prepare_delete, "delete_inference"),
    "POST": (inference.prepare_infer, "inference"),
}


def _has_inference(v: EsVersion) -> bool:
    return v.has_inference


def _has_inference_update(v: EsVersion) -> bool:
    return v.has_inference_endpoints_816


def _has_memory_stats(v: EsVersion) -> bool:
    return v.has_memory_stats


ROUTES: list[Route] = [
    _r("/", {"GET": (misc.prepare_info, "info"), "HEAD": (misc.prepare_info, "info")}),
    _r(TM, {"GET": (read.prepare_get_models, "get_models")}),
    _r("/_ml/info", {"GET": (ml_info.prepare_info, "ml_info")}),
    _r("/_ml/memory/_stats", {"GET": (ml_info.prepare_memory_stats, "memory_stats")}, _has_memory_stats),
    _r("/_ml/memory/{node_id}/_stats", {"GET": (ml_info.prepare_memory_stats, "memory_stats")}, _has_memory_stats),
    _r(f"{TM}/_stats", {"GET": (read.prepare_stats, "stats")}),
    _r(f"{TM}/{{model_id}}/_stats", {"GET": (read.prepare_stats, "stats")}),
    _r(f"{TM}/{{model_id}}/deployment/_start", {"POST": (deployments.prepare_start, "start")}),
    _r(
        f"{TM}/{{model_id}}/deployment/_update",
        {"POST": (deployments.prepare_update, "update")},
        lambda v: v.has_update,
    ),
    _r(f"{TM}/{{model_id}}/deployment/_stop", {"POST": (deployments.prepare_stop, "stop")}),
    _r(f"{TM}/{{model_id}}/definition/{{part}}", {"PUT": (models.prepare_put_definition, "put_definition")}),
    _r(f"{TM}/{{model_id}}/vocabulary", {"PUT": (models.prepare_put_vocabulary, "put_vocabulary")}),
    _r(f"{TM}/{{model_id}}/_infer", {"POST": (ml_infer.prepare_infer, "infer_model")}, lambda v: v.has_infer_api),
    _r(f"{TM}/{{model_id}}/deployment/_infer", {"POST": (ml_infer.prepare_deployment_infer, "infer_model")}),
    _r(
        f"{TM}/{{model_id}}/deployment/cache/_clear",
        {"POST": (ml_infer.prepare_clear_cache, "clear_cache")},
        lambda v: v.has_cache_clear,
    ),
    _r(
        f"{TM}/{{model_id}}/model_aliases/{{model_alias}}",
        {
            "PUT": (aliases.prepare_put_alias, "put_model_alias"),
            "DELETE": (aliases.prepare_delete_alias, "delete_model_alias"),
        },
    ),
    _r(
        f"{TM}/{{model_id}}",
        {
            "GET": (read.prepare_get_models, "get_models"),
            "PUT": (models.prepare_put_model, "put_model"),
            "DELETE": (models.prepare_delete_model, "delete_model"),
        },
    ),
    _r(
        "/_security/api_key",
        {"POST": (misc.prepare_create_api_key, "api_key"), "PUT": (misc.prepare_create_api_key, "api_key")},
    ),
    _r("/_security/_authenticate", {"GET": (misc.prepare_authenticate, "authenticate")}),
    _r(INF, {"GET": (inference.prepare_get, "get_inference")}, _has_inference),
    _r(f"{INF}/_all", {"GET": (inference.prepare_get, "get_inference")}, _has_inference),
    _r(f"{INF}/{{inference_id}}", _INF_ID, _has_inference),
    _r(f"{INF}/{{task_type}}/_all", {"GET": (inference.prepare_get, "get_inference")}, _has_inference),
    _r(f"{INF}/{{task_type}}/{{inference_id}}", _INF_ID, _has_inference),
    _r(
        f"{INF}/{{inference_id}}/_update",
        {"PUT": (inference.prepare_update, "update_inference")},
        _has_inference_update,
    ),
    _r(
        f"{INF}/{{task_type}}/{{inference_id}}/_update",
        {"PUT": (inference.prepare_update, "update_inference")},
        _has_inference_update,
    ),
    _r("/_ingest/pipeline", {"GET": (misc.prepare_get_pipeline, "pipeline")}),
    _r(
        "/_ingest/pipeline/{id}",
        {
            "GET": (misc.prepare_get_pipeline, "pipeline"),
            "PUT": (misc.prepare_put_pipeline, "pipeline"),
            "DELETE": (misc.prepare_delete_pipeline, "pipeline"),
        },
    ),
]
