"""Elasticsearch's REST routes (version-dependent) and path matching."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from . import api_deployments, api_misc, api_models, api_read
from .rest import Handler
from .versions import EsVersion


@dataclass(frozen=True)
class Route:
    pattern: tuple[str, ...]
    methods: dict[str, tuple[Handler, str]]
    available: Callable[[EsVersion], bool] = lambda v: True

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
ROUTES: list[Route] = [
    _r("/", {"GET": (api_misc.prepare_info, "info"), "HEAD": (api_misc.prepare_info, "info")}),
    _r(TM, {"GET": (api_read.prepare_get_models, "get_models")}),
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

    @property
    def endpoint(self) -> str:
        if self.route is None:
            return "any"
        return next(iter(self.route.methods.values()))[1]


def resolve(path: str, method: str, version: EsVersion) -> Match:
    segments = [s for s in path.split("/") if s] if path != "/" else []
    allowed: list[str] = []
    for route in ROUTES:
        if not route.available(version):
            continue
        params = route.match(segments)
        if params is None:
            continue
        if method in route.methods:
            return Match(route, params, [])
        allowed.extend(m for m in route.methods if m not in allowed)
    return Match(None, {}, allowed)
