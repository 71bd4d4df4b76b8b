"""Every path and query parameter of Elasticsearch's REST spec for the ML APIs is accepted; unknown ones get ES's 400.

The facts below restate what Elasticsearch's REST API specification
(``rest-api-spec/api/ml.*.json`` in elastic/elasticsearch, 8.19 and main) says
about the five trained-model APIs the operator and the simulator use, and the two that describe the
ML tier's capacity (``ml.info``, ``ml.get_memory_stats``). They are
written out here so that the test needs nothing outside the repository.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import pytest

from esml_simulator import Simulator

from .conftest import MODEL, Http


@dataclass(frozen=True)
class Route:
    method: str
    path: str  # with {part} placeholders
    parts: tuple[str, ...]  # the placeholders the path declares


@dataclass(frozen=True)
class Param:
    type: str  # boolean | int | time | list | string | enum
    options: tuple[str, ...] = ()  # enum values
    default: str | None = None


@dataclass(frozen=True)
class Api:
    routes: tuple[Route, ...]
    params: dict[str, Param]


MODEL_PART = ("model_id",)

#: The ML trained-model APIs: routes (method, path, path parts) and query parameters (name, type).
SPECS: dict[str, Api] = {
    "ml.get_trained_models": Api(
        routes=(
            Route("GET", "/_ml/trained_models/{model_id}", MODEL_PART),
            Route("GET", "/_ml/trained_models", ()),
        ),
        params={
            "allow_no_match": Param("boolean", default="true"),
            "include": Param("string"),
            "include_model_definition": Param("boolean", default="false"),
            "decompress_definition": Param("boolean", default="true"),
            "from": Param("int", default="0"),
            "size": Param("int", default="100"),
            "tags": Param("list"),
            "exclude_generated": Param("boolean", default="false"),
        },
    ),
    "ml.get_trained_models_stats": Api(
        routes=(
            Route("GET", "/_ml/trained_models/{model_id}/_stats", MODEL_PART),
            Route("GET", "/_ml/trained_models/_stats", ()),
        ),
        params={
            "allow_no_match": Param("boolean", default="true"),
            "from": Param("int", default="0"),
            "size": Param("int", default="100"),
        },
    ),
    "ml.start_trained_model_deployment": Api(
        routes=(Route("POST", "/_ml/trained_models/{model_id}/deployment/_start", MODEL_PART),),
        params={
            "cache_size": Param("string"),
            "deployment_id": Param("string"),
            "number_of_allocations": Param("int", default="1"),
            "threads_per_allocation": Param("int", default="1"),
            "priority": Param("enum", options=("normal", "low")),
            "queue_capacity": Param("int", default="1024"),  # the spec's figure; servers default to 10000
            "timeout": Param("time", default="20s"),
            "wait_for": Param("enum", options=("started", "starting", "fully_allocated"), default="started"),
        },
    ),
    "ml.stop_trained_model_deployment": Api(
        routes=(Route("POST", "/_ml/trained_models/{model_id}/deployment/_stop", MODEL_PART),),
        params={
            "allow_no_match": Param("boolean", default="true"),
            "force": Param("boolean", default="false"),
        },
    ),
    "ml.update_trained_model_deployment": Api(
        routes=(Route("POST", "/_ml/trained_models/{model_id}/deployment/_update", MODEL_PART),),
        params={"number_of_allocations": Param("int", default="1")},
    ),
    "ml.info": Api(routes=(Route("GET", "/_ml/info", ()),), params={}),
    "ml.get_memory_stats": Api(
        routes=(
            Route("GET", "/_ml/memory/_stats", ()),
            Route("GET", "/_ml/memory/{node_id}/_stats", ("node_id",)),
        ),
        params={"master_timeout": Param("time"), "timeout": Param("time")},
    ),
}

#: A value of the right type for every parameter in the spec.
VALUES = {
    "boolean": "true",
    "int": "1",
    "time": "30s",
    "list": "a",
    "string": "x",
}
SPECIFIC = {
    "cache_size": "10kb",
    "deployment_id": "spec-dep",
    "priority": "normal",
    "wait_for": "started",
    "include": "definition_status",
    "tags": "",
    "from": "0",
    "size": "10",
    "number_of_allocations": "1",
    "queue_capacity": "100",
    "allow_no_match": "true",
    # recognised, but true would ask for a pytorch definition, which is its own 400 (tested elsewhere)
    "include_model_definition": "false",
}


#: Values for the path parts.
PART_VALUES = {"model_id": MODEL, "node_id": "_all"}
#: The seven ML APIs named above; the table must keep all of them.
EXPECTED_APIS = {
    "ml.get_trained_models",
    "ml.get_trained_models_stats",
    "ml.start_trained_model_deployment",
    "ml.stop_trained_model_deployment",
    "ml.update_trained_model_deployment",
    "ml.info",
    "ml.get_memory_stats",
}


def _routes() -> list[tuple[str, Route]]:
    return [(name, route) for name, api in SPECS.items() for route in api.routes]


def _cases() -> list[tuple[str, str, str, str]]:
    return [(name, route.method, route.path, param) for name, route in _routes() for param in SPECS[name].params]


def _value(api: Api, param: str) -> str:
    definition = api.params[param]
    if param in SPECIFIC:
        return SPECIFIC[param]
    if definition.type == "enum":
        return definition.default or definition.options[0]
    return VALUES[definition.type]


def test_the_spec_table_covers_every_ml_api_and_is_consistent() -> None:
    """Guards the parametrised tests below against collecting nothing."""
    assert set(SPECS) == EXPECTED_APIS
    assert len(_routes()) == 10
    assert len(_cases()) == 37
    for name, route in _routes():
        assert route.method in {"GET", "POST"}, name
        assert set(re.findall(r"{(\w+)}", route.path)) == set(route.parts), route.path
        assert set(route.parts) <= set(PART_VALUES), route.path
    for api in SPECS.values():
        for param in api.params.values():
            assert param.type in {*VALUES, "enum"}
            assert (param.type == "enum") == bool(param.options)


async def _prepare(sim: Simulator, http: Http, name: str) -> None:
    if name in ("ml.update_trained_model_deployment", "ml.stop_trained_model_deployment"):
        r = await http("POST", f"/_ml/trained_models/{MODEL}/deployment/_start")
        assert r.status == 200, r.body


def _concrete(path: str) -> str:
    for part, value in PART_VALUES.items():
        path = path.replace(f"{{{part}}}", value)
    return path


@pytest.mark.parametrize(("name", "method", "path", "param"), _cases())
async def test_every_spec_parameter_is_accepted(
    sim: Simulator, http: Http, name: str, method: str, path: str, param: str
) -> None:
    await _prepare(sim, http, name)
    value = _value(SPECS[name], param)
    if name == "ml.update_trained_model_deployment" and param == "number_of_allocations":
        value = "2"
    reply = await http(method, _concrete(path), params={param: value})
    assert reply.status == 200, reply.body


@pytest.mark.parametrize(
    ("name", "method", "path"),
    [(name, route.method, route.path) for name, route in _routes()],
)
async def test_every_spec_path_answers(sim: Simulator, http: Http, name: str, method: str, path: str) -> None:
    await _prepare(sim, http, name)
    body = {"number_of_allocations": 2} if name == "ml.update_trained_model_deployment" else None
    reply = await http(method, _concrete(path), body)
    assert reply.status == 200, reply.body
    assert reply.headers["X-Elastic-Product"] == "Elasticsearch"


@pytest.mark.parametrize(
    ("method", "path"),
    [(route.method, route.path) for _, route in _routes()],
)
async def test_unknown_parameter_is_rejected(sim: Simulator, http: Http, method: str, path: str) -> None:
    # _update without a body fails on "request body is required" first (parse errors win), so send one
    body = {"number_of_allocations": 1} if path.endswith("_update") else None
    reply = await http(method, _concrete(path), body, params={"bogus_param": "1"})
    assert reply.status == 400
    assert reply.error_type == "illegal_argument_exception"
    raw_path = _concrete(path)
    assert reply.reason == f"request [{raw_path}] contains unrecognized parameter: [bogus_param]"
    assert reply.body["status"] == 400


async def test_unrecognized_parameter_suggests_close_names(http: Http) -> None:
    reply = await http("POST", f"/_ml/trained_models/{MODEL}/deployment/_stop", params={"forse": "true"})
    assert reply.reason == (
        f"request [/_ml/trained_models/{MODEL}/deployment/_stop] contains unrecognized parameter: "
        "[forse] -> did you mean [force]?"
    )


async def test_several_unrecognized_parameters_are_sorted_and_plural(http: Http) -> None:
    reply = await http("GET", "/_ml/trained_models/_stats", params={"zzz": "1", "aaa": "1"})
    assert reply.reason == "request [/_ml/trained_models/_stats] contains unrecognized parameters: [aaa], [zzz]"


async def test_generic_response_parameters_are_accepted_everywhere(http: Http) -> None:
    reply = await http(
        "GET",
        "/_ml/trained_models/_stats",
        params={"pretty": "true", "human": "true", "error_trace": "false", "filter_path": "count"},
    )
    assert reply.status == 200
    assert reply.body == {"count": 2}


async def test_filter_path_with_wildcards(http: Http) -> None:
    reply = await http("GET", "/_ml/trained_models/_stats", params={"filter_path": "trained_model_stats.model_id"})
    assert reply.body == {"trained_model_stats": [{"model_id": MODEL}, {"model_id": "lang_ident_model_1"}]}
