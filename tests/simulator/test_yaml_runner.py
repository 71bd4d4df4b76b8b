"""The YAML REST runner itself: every kind of check fails when it should (else the scenarios prove nothing)."""

from __future__ import annotations

from pathlib import Path

import pytest

from .conftest import MODEL, SimFactory
from .yamlrest.client import client_for
from .yamlrest.loader import Case, load_file
from .yamlrest.paths import lookup, split_path
from .yamlrest.runner import Runner, parse_warnings
from .yamlrest.skips import in_range, skip_reason

START = {"do": {"ml.start_trained_model_deployment": {"model_id": MODEL, "wait_for": "started"}}}
STATS = {"do": {"ml.get_trained_models_stats": {"model_id": MODEL}}}
OLD_INFER = {
    "perform_request": {
        "method": "POST",
        "path": f"/_ml/trained_models/{MODEL}/deployment/_infer",
        "body": {"docs": [{"text_field": "x"}]},
    }
}
DEPRECATION = (
    "[POST /_ml/trained_models/{model_id}/deployment/_infer] is deprecated! "
    "Use [POST /_ml/trained_models/{model_id}/_infer] instead."
)

FAILING: dict[str, list[dict[str, object]]] = {
    "wrong match": [STATS, {"match": {"count": 2}}],
    "regex that does not match": [STATS, {"match": {"trained_model_stats.0.model_id": "/^other/"}}],
    "missing path": [STATS, {"match": {"trained_model_stats.0.no_such_field": 1}}],
    "wrong length": [STATS, {"length": {"trained_model_stats": 3}}],
    "is_true on a missing field": [STATS, {"is_true": "trained_model_stats.0.deployment_stats"}],
    "is_false on a present field": [STATS, {"is_false": "trained_model_stats.0.model_id"}],
    "gt": [STATS, {"gt": {"count": 1}}],
    "lt": [STATS, {"lt": {"count": 1}}],
    "catch that does not happen": [{"do": {"catch": "missing", **STATS["do"]}}],
    "catch of the wrong status": [{"do": {"catch": "conflict", "ml.get_trained_models": {"model_id": "nope"}}}],
    "catch regex that does not match": [
        {"do": {"catch": "/something else/", "ml.get_trained_models": {"model_id": "nope"}}}
    ],
    "an error without catch": [{"do": {"ml.get_trained_models": {"model_id": "nope"}}}],
    "unexpected warning": [START, {"do": OLD_INFER}],
    "expected warning missing": [START, {"do": {"warnings": ["not sent"], **STATS["do"]}}],
    "unknown step": [{"no_such_step": {}}],
    "unstashed variable": [STATS, {"match": {"count": "$never_set"}}],
    "feature the runner lacks": [{"skip": {"features": "no_such_feature"}}, STATS],
}


@pytest.mark.parametrize("name", sorted(FAILING))
async def test_a_failing_check_fails(name: str, make_sim: SimFactory) -> None:
    sim = await make_sim()
    case = Case(Path("inline.yml"), name, FAILING[name])  # type: ignore[arg-type]
    async with client_for(sim.url, "9.2.0", ("elastic", "changeme")) as client:
        with pytest.raises(AssertionError):
            await Runner(client, "9.2.0").run(case)


async def test_passing_checks_stash_and_warnings(make_sim: SimFactory) -> None:
    sim = await make_sim()
    steps: list[dict[str, object]] = [
        START,
        {"do": {"allowed_warnings": [DEPRECATION], **OLD_INFER}},
        {"do": {"warnings": [DEPRECATION], **OLD_INFER}},
        STATS,
        {"set": {"trained_model_stats.0.model_id": "model"}},
        {"do": {"ml.get_trained_models": {"model_id": "$model"}}},
        {"match": {"trained_model_configs.0.model_id": "$model"}},
        {"match": {"trained_model_configs.0.model_id": "/^ elastic__ .* english $/"}},
        {"do": {"catch": "missing", "ml.get_trained_models": {"model_id": "${model}-nope"}}},
        {"match": {"error.reason": "/\\[elastic__.*-nope\\]/"}},
    ]
    async with client_for(sim.url, "9.2.0", ("elastic", "changeme")) as client:
        runner = Runner(client, "9.2.0")
        await runner.run(Case(Path("inline.yml"), "passing", steps))  # type: ignore[arg-type]
    assert runner.stash == {"model": MODEL}


async def test_a_version_skip_skips(make_sim: SimFactory) -> None:
    sim = await make_sim()
    case = Case(Path("inline.yml"), "old", [{"skip": {"version": " - 9.9.99", "reason": "r"}}, {"no_such_step": {}}])
    async with client_for(sim.url, "9.2.0", ("elastic", "changeme")) as client:
        with pytest.raises(pytest.skip.Exception):
            await Runner(client, "9.2.0").run(case)


def test_version_ranges() -> None:
    assert in_range("8.2.0", " - 8.2.99") and not in_range("8.3.0", " - 8.2.99")
    assert in_range("9.2.0", "8.3.0 - ") and not in_range("8.2.9", "8.3.0 - ")
    assert in_range("8.5.1", "8.0.0 - 8.1.0, 8.5.0 - 8.5.9") and in_range("1.0.0", "all")
    assert skip_reason({"version": "9.0.0 - ", "reason": "new"}, "8.19.0") is None


def test_paths_and_warnings() -> None:
    assert split_path("a.b\\.c.0") == ["a", "b.c", "0"]
    assert lookup({"a": [{"b.c": 5}]}, "a.0.b\\.c", {}) == 5
    assert lookup({"a": 1}, "$body", {}) == {"a": 1}
    headers = {"warning": '299 Elasticsearch-9.2.0-abc "one [x]", 299 Elasticsearch-9.2.0-abc "two \\"q\\""'}
    assert parse_warnings(headers) == ["one [x]", 'two "q"']


def test_a_file_without_tests_is_an_error(tmp_path: Path) -> None:
    empty = tmp_path / "empty.yml"
    empty.write_text("setup:\n  - do: {info: {}}\n")
    with pytest.raises(ValueError, match="no test sections"):
        load_file(empty)
