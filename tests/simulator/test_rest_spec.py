"""Every path and query parameter of the shared REST spec is accepted; unknown ones get ES's 400."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from esml_operator.simulator import Simulator

from .conftest import MODEL, Http

SPEC_DIR = Path("/work/shared/reference/elasticsearch/rest-api-spec")
SPECS = {p.stem: json.loads(p.read_text())[p.stem] for p in sorted(SPEC_DIR.glob("ml.*.json"))}

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


def _cases() -> list[tuple[str, str, str, str]]:
    cases = []
    for name, spec in SPECS.items():
        for path in spec["url"]["paths"]:
            for method in path["methods"]:
                for param in spec.get("params", {}):
                    cases.append((name, method, path["path"], param))
    return cases


def _value(spec: dict[str, Any], param: str) -> str:
    definition = spec["params"][param]
    if param in SPECIFIC:
        return SPECIFIC[param]
    if definition["type"] == "enum":
        return str(definition.get("default", definition["options"][0]))
    return VALUES[definition["type"]]


async def _prepare(sim: Simulator, http: Http, name: str) -> None:
    if name in ("ml.update_trained_model_deployment", "ml.stop_trained_model_deployment"):
        r = await http("POST", f"/_ml/trained_models/{MODEL}/deployment/_start")
        assert r.status == 200, r.body


def _concrete(path: str) -> str:
    return path.replace("{model_id}", MODEL)


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
    [(n, m, p["path"]) for n, s in SPECS.items() for p in s["url"]["paths"] for m in p["methods"]],
)
async def test_every_spec_path_answers(sim: Simulator, http: Http, name: str, method: str, path: str) -> None:
    await _prepare(sim, http, name)
    body = {"number_of_allocations": 2} if name == "ml.update_trained_model_deployment" else None
    reply = await http(method, _concrete(path), body)
    assert reply.status == 200, reply.body
    assert reply.headers["X-Elastic-Product"] == "Elasticsearch"


@pytest.mark.parametrize(
    ("method", "path"),
    [(m, p["path"]) for s in SPECS.values() for p in s["url"]["paths"] for m in p["methods"]],
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
