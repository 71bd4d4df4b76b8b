"""Elasticsearch's REST routes (version-dependent) and path matching."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from . import (
    api_aliases,
    api_deployments,
    api_inference,
    api_misc,
    api_ml_infer,
    api_ml_info,
    api_models,
    api_read,
)
from .rest import Handler
from .versions import EsVersion


@dataclass(frozen=True)
class Route:
    pattern: tuple[str, ...]
    methods: dict[str, tuple[Handler, str]]
    available: Callable[[EsVersion], bool] = lambda v: True

    @property
    def wildcards(self) -> int:
        return sum(1 for part in self.pattern if part.startswith("{"))

    def match(self, segments: list[str]) -> dict[str, str] | None:
        if len(segments) != len(self.pattern):
            return None
        params: dict[str, str] = {}
        for part, seg in zip(self.pattern, segments, strict=True):
            if part.startswith("{"):
                if not seg:
                    return None
                params[part[1:-1]] = seg
            elif part != seg:
                return None
        return params


def _r(
    path: str, methods: dict[str, tuple[Handler, str]], available: Callable[[EsVersion], bool] | None = None
) -> Route:
    pattern = tuple(s for s in path.split("/") if s)
    return Route(pattern, methods, available or (lambda v: True))


TM = "/_ml/trained_models"
INF = "/_inference"
_INF_ID: dict[str, tuple[Handler, str]] = {
    "GET": (api_inference.prepare_get, "get_inference"),
    "PUT": (api_inference.prepare_put, "put_inference"),
    "DELETE": (api_inference.prepare_delete, "delete_inference"),
    "POST": (api_inference.prepare_infer, "inference"),
}


def _has_inference(v: EsVersion) -> bool:
    return v.has_inference


def _has_inference_update(v: EsVersion) -> bool:
    return v.has_inference_endpoints_816


def _has_memory_stats(v: EsVersion) -> bool:
    return v.has_memory_stats


ROUTES: list[Route] = [
    _r("/", {"GET": (api_misc.prepare_info, "info"), "HEAD": (api_misc.prepare_info, "info")}),
    _r(TM, {"GET": (api_read.prepare_get_models, "get_models")}),
    _r("/_ml/info", {"GET": (api_ml_info.prepare_info, "ml_info")}),
    _r("/_ml/memory/_stats", {"GET": (api_ml_info.prepare_memory_stats, "memory_stats")}, _has_memory_stats),
    _r("/_ml/memory/{node_id}/_stats", {"GET": (api_ml_info.prepare_memory_stats, "memory_stats")}, _has_memory_stats),
    _r(f"{TM}/_stats", {"GET": (api_read.prepare_stats, "stats")}),
    _r(f"{TM}/{{model_id}}/_stats", {"GET": (api_read.prepare_stats, "stats")}),
    _r(f"{TM}/{{model_id}}/deployment/_start", {"POST": (api_deployments.prepare_start, "start")}),
    _r(
        f"{TM}/{{model_id}}/deployment/_update",
        {"POST": (api_deployments.prepare_update, "update")},
        lambda v: v.has_update,
    ),
    _r(f"{TM}/{{model_id}}/deployment/_stop", {"POST": (api_deployments.prepare_stop, "stop")}),
    _r(f"{TM}/{{model_id}}/definition/{{part}}", {"PUT": (api_models.prepare_put_definition, "put_definition")}),
    _r(f"{TM}/{{model_id}}/vocabulary", {"PUT": (api_models.prepare_put_vocabulary, "put_vocabulary")}),
    _r(f"{TM}/{{model_id}}/_infer", {"POST": (api_ml_infer.prepare_infer, "infer_model")}, lambda v: v.has_infer_api),
    _r(f"{TM}/{{model_id}}/deployment/_infer", {"POST": (api_ml_infer.prepare_deployment_infer, "infer_model")}),
    _r(
        f"{TM}/{{model_id}}/deployment/cache/_clear",
        {"POST": (api_ml_infer.prepare_clear_cache, "clear_cache")},
        lambda v: v.has_cache_clear,
    ),
    _r(
        f"{TM}/{{model_id}}/model_aliases/{{model_alias}}",
        {
            "PUT": (api_aliases.prepare_put_alias, "put_model_alias"),
            "DELETE": (api_aliases.prepare_delete_alias, "delete_model_alias"),
        },
    ),
    _r(
        f"{TM}/{{model_id}}",
        {
            "GET": (api_read.prepare_get_models, "get_models"),
            "PUT": (api_models.prepare_put_model, "put_model"),
            "DELETE": (api_models.prepare_delete_model, "delete_model"),
        },
    ),
    _r(
        "/_security/api_key",
        {"POST": (api_misc.prepare_create_api_key, "api_key"), "PUT": (api_misc.prepare_create_api_key, "api_key")},
    ),
    _r("/_security/_authenticate", {"GET": (api_misc.prepare_authenticate, "authenticate")}),
    _r(INF, {"GET": (api_inference.prepare_get, "get_inference")}, _has_inference),
    _r(f"{INF}/_all", {"GET": (api_inference.prepare_get, "get_inference")}, _has_inference),
    _r(f"{INF}/{{inference_id}}", _INF_ID, _has_inference),
    _r(f"{INF}/{{task_type}}/_all", {"GET": (api_inference.prepare_get, "get_inference")}, _has_inference),
    _r(f"{INF}/{{task_type}}/{{inference_id}}", _INF_ID, _has_inference),
    _r(
        f"{INF}/{{inference_id}}/_update",
        {"PUT": (api_inference.prepare_update, "update_inference")},
        _has_inference_update,
    ),
    _r(
        f"{INF}/{{task_type}}/{{inference_id}}/_update",
        {"PUT": (api_inference.prepare_update, "update_inference")},
        _has_inference_update,
    ),
    _r("/_ingest/pipeline", {"GET": (api_misc.prepare_get_pipeline, "pipeline")}),
    _r(
        "/_ingest/pipeline/{id}",
        {
            "GET": (api_misc.prepare_get_pipeline, "pipeline"),
            "PUT": (api_misc.prepare_put_pipeline, "pipeline"),
            "DELETE": (api_misc.prepare_delete_pipeline, "pipeline"),
        },
    ),
]


@dataclass
class Match:
    route: Route | None
    params: dict[str, str]
    allowed: list[str]
    method: str = ""

    @property
    def endpoint(self) -> str:
        """The fault-injection name of the matched API (``any`` when none matched)."""
        if self.route is None or self.method not in self.route.methods:
            return "any"
        return self.route.methods[self.method][1]


def resolve(path: str, method: str, version: EsVersion) -> Match:
    """Like Elasticsearch's path trie: a path with fewer wildcards wins; its methods decide (else 405)."""
    segments = [s for s in path.split("/") if s] if path != "/" else []
    candidates = []
    for route in ROUTES:
        if not route.available(version):
            continue
        params = route.match(segments)
        if params is not None:
            candidates.append((route, params))
    if not candidates:
        return Match(None, {}, [], method)
    fewest = min(route.wildcards for route, _ in candidates)
    allowed: list[str] = []
    for route, params in candidates:
        if route.wildcards != fewest:
            continue
        if method in route.methods:
            return Match(route, params, [], method)
        allowed.extend(m for m in route.methods if m not in allowed)
    return Match(None, {}, allowed, method)
