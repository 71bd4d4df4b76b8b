"""Version emulation and REST compatibility headers (``compatible-with``)."""

from __future__ import annotations

from typing import Any

import pytest

from esml_simulator import EsVersion

from .conftest import MODEL, Http, SimFactory

START = f"/_ml/trained_models/{MODEL}/deployment/_start"
UPDATE = f"/_ml/trained_models/{MODEL}/deployment/_update"
STATS = f"/_ml/trained_models/{MODEL}/_stats"
V8 = "application/vnd.elasticsearch+json; compatible-with=8"
V9 = "application/vnd.elasticsearch+json; compatible-with=9"
V7 = "application/vnd.elasticsearch+json; compatible-with=7"


async def at(make_sim: SimFactory, session: object, version: str, **kw: Any) -> Http:
    sim = await make_sim(es_version=version, **kw)
    return Http(sim, session)  # type: ignore[arg-type]


def test_version_parsing() -> None:
    assert str(EsVersion.parse("8.15.1")) == "8.15.1"
    with pytest.raises(ValueError, match="unsupported"):
        EsVersion.parse("7.17.0")
    with pytest.raises(ValueError, match="invalid"):
        EsVersion.parse("9")


async def test_info_reports_the_emulated_version(make_sim: SimFactory, session: object) -> None:
    http = await at(make_sim, session, "8.12.2")
    r = await http("GET", "/")
    assert r.body["version"]["number"] == "8.12.2"
    assert r.body["version"]["minimum_wire_compatibility_version"] == "7.17.0"


async def test_update_api_missing_before_8_6(make_sim: SimFactory, session: object) -> None:
    http = await at(make_sim, session, "8.5.3")
    r = await http("POST", UPDATE, {"number_of_allocations": 2})
    assert r.status == 400
    assert r.body == {"error": f"no handler found for uri [{UPDATE}] and method [POST]"}
    http = await at(make_sim, session, "8.6.0")
    await http("POST", START)
    assert (await http("POST", UPDATE, {"number_of_allocations": 2})).status == 200


async def test_deployment_id_from_8_8(make_sim: SimFactory, session: object) -> None:
    http = await at(make_sim, session, "8.7.1")
    r = await http("POST", START, params={"deployment_id": "x"})
    assert r.status == 400
    assert "unrecognized parameter: [deployment_id]" in r.reason
    r = await http("POST", START)
    assert "deployment_id" not in r.body["assignment"]["task_parameters"]
    http = await at(make_sim, session, "8.8.0")
    r = await http("POST", START, params={"deployment_id": "x"})
    assert r.body["assignment"]["task_parameters"]["deployment_id"] == "x"


async def test_update_query_parameter_from_8_15(make_sim: SimFactory, session: object) -> None:
    http = await at(make_sim, session, "8.14.3")
    await http("POST", START)
    r = await http("POST", UPDATE, {"number_of_allocations": 2}, params={"number_of_allocations": "2"})
    assert "unrecognized parameter: [number_of_allocations]" in r.reason
    http = await at(make_sim, session, "8.15.0")
    await http("POST", START)
    assert (await http("POST", UPDATE, params={"number_of_allocations": "2"})).status == 200


async def test_start_body_disables_query_parameters_before_8_15(make_sim: SimFactory, session: object) -> None:
    http = await at(make_sim, session, "8.14.0")
    r = await http("POST", START, {"number_of_allocations": 1}, params={"cache_size": "10kb"})
    assert r.status == 400
    assert r.reason.endswith("contains unrecognized parameter: [cache_size]")
    http = await at(make_sim, session, "9.0.0")
    r = await http("POST", START, {"number_of_allocations": 1}, params={"number_of_allocations": "2"})
    assert r.body["assignment"]["task_parameters"]["number_of_allocations"] == 2


async def test_adaptive_allocations_from_8_16(make_sim: SimFactory, session: object) -> None:
    http = await at(make_sim, session, "8.15.2")
    r = await http("POST", START, {"adaptive_allocations": {"enabled": True}})
    assert (r.status, r.error_type) == (400, "x_content_parse_exception")
    r = await http("POST", START)
    assert "adaptive_allocations" not in r.body["assignment"]
    http = await at(make_sim, session, "8.16.0")
    r = await http("POST", START, {"adaptive_allocations": {"enabled": True}})
    assert r.body["assignment"]["adaptive_allocations"] == {"enabled": True}


async def test_queue_capacity_limits_by_version(make_sim: SimFactory, session: object) -> None:
    http = await at(make_sim, session, "8.16.0")
    r = await http("POST", START, params={"queue_capacity": "200000"})
    assert r.status == 200
    assert (await http("GET", STATS)).status == 200
    http = await at(make_sim, session, "8.16.0")
    r = await http("POST", START, params={"queue_capacity": "1000001", "deployment_id": "q"})
    assert r.reason == "Validation Failed: 1: [queue_capacity] must be less than 1000000;"
    http = await at(make_sim, session, "8.17.0")
    r = await http("POST", START)
    assert r.body["assignment"]["task_parameters"]["queue_capacity"] == 10000


async def test_pre_8_3_naming(make_sim: SimFactory, session: object) -> None:
    http = await at(make_sim, session, "8.2.0")
    r = await http("POST", START, params={"model_threads": "2", "inference_threads": "1"})
    assert r.status == 200, r.body
    allocation = r.body["allocation"]
    assert allocation["allocation_state"] == "started"
    assert allocation["task_parameters"]["model_threads"] == 2
    assert set(next(iter(allocation["routing_table"].values()))) == {"routing_state", "reason"}


async def test_legacy_thread_params_only_with_compat_8_on_9(make_sim: SimFactory, session: object) -> None:
    http = await at(make_sim, session, "9.1.0")
    r = await http("POST", START, params={"model_threads": "2"})
    assert "unrecognized parameter: [model_threads]" in r.reason
    r = await http("POST", START, params={"model_threads": "2"}, headers={"Accept": V8})
    assert r.status == 200
    assert r.body["assignment"]["task_parameters"]["number_of_allocations"] == 2
    assert r.headers["Content-Type"] == "application/vnd.elasticsearch+json;compatible-with=8"


async def test_compat_header_out_of_range(http: Http) -> None:
    r = await http("GET", STATS, headers={"Accept": V7})
    assert (r.status, r.error_type) == (400, "media_type_header_exception")
    assert r.body["error"]["caused_by"] == {
        "type": "status_exception",
        "reason": f"Accept version must be either version 9 or 8, but found 7. Accept={V7}",
    }


async def test_compat_headers_must_match_with_a_body(http: Http) -> None:
    r = await http("POST", UPDATE, {"number_of_allocations": 2}, headers={"Accept": V8})
    assert r.body["error"]["caused_by"]["reason"].startswith(
        "A compatible version is required on both Content-Type and Accept headers if either one has requested a "
        "compatible version and the compatible versions must match."
    )
    r = await http("POST", UPDATE, {"number_of_allocations": 2}, headers={"Accept": V9})
    assert r.body["error"]["caused_by"]["reason"] == (
        "A compatible version is required on both Content-Type and Accept headers if either one has requested a "
        f"compatible version. Accept={V9}, Content-Type=application/json"
    )
    r = await http("POST", UPDATE, {"number_of_allocations": 2}, headers={"Accept": V8, "Content-Type": V8})
    assert r.status == 404  # headers fine; the deployment does not exist


async def test_compat_7_on_8_omits_deployment_stats(make_sim: SimFactory, session: object) -> None:
    http = await at(make_sim, session, "8.19.0")
    await http("POST", START)
    r = await http("GET", STATS, headers={"Accept": V7})
    assert r.status == 200
    assert "deployment_stats" not in r.body["trained_model_stats"][0]
    r = await http("GET", STATS)
    assert "deployment_stats" in r.body["trained_model_stats"][0]


async def test_manage_inference_listed_only_in_newer_versions(make_sim: SimFactory, session: object) -> None:
    sim = await make_sim(es_version="8.10.0", users=[("mon", "pw", "monitor_ml")])
    http = Http(sim, session)  # type: ignore[arg-type]
    import base64

    r = await http("POST", START, auth="Basic " + base64.b64encode(b"mon:pw").decode())
    assert r.reason.endswith("[manage_ml,manage,all]")
