"""Inference endpoints by version: when each API appeared, the 9.2 ownership 409s, the ``_stop`` refusal."""

from __future__ import annotations

from typing import Any

import pytest

from .conftest import Http, SimFactory

ELSER = ".elser_model_2_linux-x86_64"
PUT = "/_inference/sparse_embedding/my-elser"
UPDATE = f"{PUT}/_update"
ML_UPDATE = "/_ml/trained_models/my-elser/deployment/_update"
ML_STOP = "/_ml/trained_models/my-elser/deployment/_stop"
OWNED = {"service": "elasticsearch", "service_settings": {"model_id": ELSER, "num_threads": 1, "num_allocations": 1}}


async def at(make_sim: SimFactory, session: object, version: str, **kw: Any) -> Http:
    sim = await make_sim(es_version=version, **kw)
    return Http(sim, session)  # type: ignore[arg-type]


async def live_count(http: Http, deployment_id: str = "my-elser") -> int | None:
    r = await http("GET", f"/_ml/trained_models/{deployment_id}/_stats")
    if r.status == 404:
        return None
    stats = r.body["trained_model_stats"][0].get("deployment_stats")
    return None if stats is None else int(stats["number_of_allocations"])


async def test_no_inference_api_before_8_11(make_sim: SimFactory, session: object) -> None:
    http = await at(make_sim, session, "8.10.4")
    r = await http("PUT", PUT, OWNED)
    assert (r.status, r.body) == (400, {"error": f"no handler found for uri [{PUT}] and method [PUT]"})


async def test_8_11_has_only_the_elser_service_and_prints_empty_task_settings(
    make_sim: SimFactory, session: object
) -> None:
    http = await at(make_sim, session, "8.11.4")
    r = await http("PUT", PUT, OWNED)
    assert (r.status, r.reason) == (400, "Unknown service [elasticsearch]")
    r = await http("PUT", PUT, {"service": "elser", "service_settings": {"num_threads": 1, "num_allocations": 1}})
    assert r.status == 200, r.body
    assert r.body == {
        "inference_id": "my-elser",
        "task_type": "sparse_embedding",
        "service": "elser",
        "service_settings": {"num_allocations": 1, "num_threads": 1, "model_id": ELSER},
        "task_settings": {},
    }
    listed = await http("GET", "/_inference/_all")
    # before 8.13 the list is "models" (Elastic's YAML tests of that time); no default endpoints yet
    assert [e["inference_id"] for e in listed.body["models"]] == ["my-elser"]
    assert (await http("DELETE", "/_inference/my-elser", params={"force": "true"})).status == 400  # no flags yet
    deleted = await http("DELETE", "/_inference/my-elser")
    assert (deleted.status, deleted.body) == (200, {"acknowledged": True})
    assert await live_count(http) is None


async def test_8_15_has_delete_flags_but_no_update_and_no_attach(make_sim: SimFactory, session: object) -> None:
    http = await at(make_sim, session, "8.15.3")
    assert (await http("PUT", PUT, OWNED)).status == 200
    r = await http("PUT", UPDATE, {"service_settings": {"num_allocations": 2}})
    assert (r.status, r.body) == (400, {"error": f"no handler found for uri [{UPDATE}] and method [PUT]"})
    attach = {"service": "elasticsearch", "service_settings": {"deployment_id": "my-elser"}}
    r = await http("PUT", "/_inference/sparse_embedding/other", attach)
    assert (r.status, r.reason) == (400, "Error parsing service settings, model_id must be provided")  # no attach
    dry = await http("DELETE", "/_inference/my-elser", params={"dry_run": "true"})
    assert dry.body == {"acknowledged": False, "pipelines": [], "indexes": [], "error_message": ""}


async def test_8_16_update_reads_only_an_integer_num_allocations(make_sim: SimFactory, session: object) -> None:
    http = await at(make_sim, session, "8.16.1")
    assert (await http("PUT", PUT, OWNED)).status == 200
    body = {"service_settings": {"adaptive_allocations": {"enabled": True}}}
    r = await http("PUT", UPDATE, body)
    assert (r.status, r.error_type) == (400, "status_exception")
    assert r.reason == (
        'Failed to parse [num_allocations] of update request [{"service_settings": {"adaptive_allocations": '
        '{"enabled": true}}}]'
    )
    r = await http("PUT", UPDATE, {"service_settings": {"num_allocations": 2}, "task_type": "text_embedding"})
    assert r.status == 200  # the body task type is ignored before 8.18
    assert await live_count(http) == 2


@pytest.mark.parametrize(("version", "refused"), [("9.1.5", False), ("9.2.0", True)])
async def test_ml_update_of_an_owned_deployment_is_409_from_9_2(
    make_sim: SimFactory, session: object, version: str, refused: bool
) -> None:
    http = await at(make_sim, session, version)
    assert (await http("PUT", PUT, OWNED)).status == 200
    r = await http("POST", ML_UPDATE, {"number_of_allocations": 3})
    if refused:
        assert (r.status, r.error_type) == (409, "status_exception")
        assert await live_count(http) == 1
        return
    assert r.status == 200
    got = await http("GET", "/_inference/my-elser")
    assert got.body["endpoints"][0]["service_settings"]["num_allocations"] == 3  # live, though stored is 1
    assert (await http("PUT", UPDATE, {"service_settings": {"num_allocations": 3}})).body["service_settings"][
        "num_allocations"
    ] == 3


@pytest.mark.parametrize(("version", "refused"), [("9.1.5", False), ("9.2.0", True)])
async def test_inference_update_of_an_attached_endpoint_is_409_from_9_2(
    make_sim: SimFactory, session: object, version: str, refused: bool
) -> None:
    http = await at(make_sim, session, version, models=[ELSER])
    start = f"/_ml/trained_models/{ELSER}/deployment/_start"
    assert (await http("POST", start, params={"deployment_id": "shared"})).status == 200
    attach = {"service": "elasticsearch", "service_settings": {"deployment_id": "shared"}}
    assert (await http("PUT", "/_inference/sparse_embedding/attached", attach)).status == 200
    r = await http("PUT", "/_inference/sparse_embedding/attached/_update", {"service_settings": {"num_allocations": 2}})
    assert r.status == (409 if refused else 200)
    assert await live_count(http, "shared") == (1 if refused else 2)


@pytest.mark.parametrize(
    ("version", "refused"),
    [("8.18.3", False), ("8.18.4", True), ("8.19.0", True), ("9.0.3", False), ("9.0.4", True), ("9.1.0", True)],
)
async def test_ml_stop_refusal_by_version(make_sim: SimFactory, session: object, version: str, refused: bool) -> None:
    http = await at(make_sim, session, version)
    assert (await http("PUT", PUT, OWNED)).status == 200
    r = await http("POST", ML_STOP)
    if refused:
        assert (r.status, r.error_type) == (409, "status_exception")
        assert r.reason.startswith(
            "Cannot stop deployment [my-elser] as it was created by inference endpoint [my-elser]"
        )
        r = await http("POST", ML_STOP, params={"force": "true"})
    assert (r.status, r.body) == (200, {"stopped": True})
    assert await live_count(http) is None


@pytest.mark.parametrize(
    ("version", "accepted"), [("8.18.2", False), ("8.19.1", True), ("9.0.2", False), ("9.1.0", True)]
)
async def test_put_timeout_parameter_by_version(
    make_sim: SimFactory, session: object, version: str, accepted: bool
) -> None:
    http = await at(make_sim, session, version)
    r = await http("PUT", PUT, OWNED, params={"timeout": "40s"})
    assert r.status == (200 if accepted else 400)
    if not accepted:
        assert r.reason == f"request [{PUT}] contains unrecognized parameter: [timeout]"


async def test_no_op_update_is_judged_on_the_stored_config_from_9_2(make_sim: SimFactory, session: object) -> None:
    for version, expected in (("9.1.5", 404), ("9.2.0", 200)):
        http = await at(make_sim, session, version)
        assert (await http("PUT", PUT, OWNED)).status == 200
        assert (await http("POST", ML_STOP, params={"force": "true"})).status == 200
        r = await http("PUT", UPDATE, {"service_settings": {"num_allocations": 1}})  # unchanged
        assert r.status == expected, (version, r.body)
    r = await http("PUT", UPDATE, {"service_settings": {"num_allocations": 2}})
    assert (r.status, r.error_type, r.reason) == (
        404,
        "resource_not_found_exception",
        "Requested model ID [my-elser] does not have a matching trained model and thus cannot be updated.",
    )


async def test_default_endpoints_from_8_16_and_rerank_from_8_18(make_sim: SimFactory, session: object) -> None:
    ids = {}
    for version in ("8.15.3", "8.16.0", "8.18.0"):
        http = await at(make_sim, session, version)
        listed = await http("GET", "/_inference")
        ids[version] = [e["inference_id"] for e in listed.body["endpoints"]]
    assert ids == {
        "8.15.3": [],
        "8.16.0": [".elser-2-elasticsearch", ".multilingual-e5-small-elasticsearch"],
        "8.18.0": [".elser-2-elasticsearch", ".multilingual-e5-small-elasticsearch", ".rerank-v1-elasticsearch"],
    }


async def test_elser_service_is_stored_as_elasticsearch_with_a_warning_from_8_16(http: Http) -> None:
    r = await http("PUT", PUT, {"service": "elser", "service_settings": {"num_threads": 1, "num_allocations": 1}})
    assert r.status == 200
    assert r.body["service"] == "elasticsearch"
    assert r.body["service_settings"]["model_id"] == ELSER
    assert "The [elser] service is deprecated" in r.headers["Warning"]
