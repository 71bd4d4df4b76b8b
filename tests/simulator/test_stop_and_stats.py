"""Stop, and stats / get models."""

from __future__ import annotations

from esml_simulator import Simulator

from .conftest import MODEL, Http

STOP = f"/_ml/trained_models/{MODEL}/deployment/_stop"
START = f"/_ml/trained_models/{MODEL}/deployment/_start"


async def test_stop_unknown_allow_no_match_default_true(http: Http) -> None:
    r = await http("POST", STOP)
    assert (r.status, r.body) == (200, {"stopped": True})


async def test_stop_is_exact_id_lookup(http: Http) -> None:
    await http("POST", START)
    r = await http("POST", "/_ml/trained_models/*/deployment/_stop", params={"allow_no_match": "false"})
    assert r.status == 404


async def test_stop_body_form(http: Http) -> None:
    await http("POST", START)
    r = await http("POST", STOP, {"model_id": MODEL, "force": True, "allow_no_match": False})
    assert r.body == {"stopped": True}


async def test_stop_body_means_query_is_not_read(http: Http) -> None:
    r = await http("POST", STOP, {"force": True}, params={"force": "true"})
    assert (r.status, r.error_type) == (400, "illegal_argument_exception")
    assert "contains unrecognized parameter: [force]" in r.reason


async def test_stop_body_model_id_mismatch_is_illegal_argument(http: Http) -> None:
    r = await http("POST", STOP, {"model_id": "other"})
    assert (r.status, r.error_type) == (400, "illegal_argument_exception")
    assert r.reason.startswith("Inconsistent model_id; 'other' specified in the body differs")


async def test_stop_spec_id_field_is_unknown_to_the_server(http: Http) -> None:
    r = await http("POST", STOP, {"id": MODEL})
    assert (r.status, r.error_type) == (400, "x_content_parse_exception")


async def test_stop_refused_while_a_pipeline_references_it(sim: Simulator, http: Http) -> None:
    await http("POST", START)
    put = await http("PUT", "/_ingest/pipeline/p1", {"processors": [{"inference": {"model_id": MODEL}}]})
    assert put.status == 200
    r = await http("POST", STOP)
    assert (r.status, r.error_type) == (409, "status_exception")
    assert r.reason == (
        f"Cannot stop deployment [{MODEL}] as it is referenced by ingest processors; use force to stop the deployment"
    )
    stats = await http("GET", f"/_ml/trained_models/{MODEL}/_stats")
    assert stats.body["trained_model_stats"][0]["pipeline_count"] == 1
    assert (await http("POST", STOP, params={"force": "true"})).status == 200


async def test_stop_refused_for_inference_endpoint_deployments(sim: Simulator, http: Http) -> None:
    await http("POST", START)
    sim.control.add_inference_endpoint("ep", MODEL)
    r = await http("POST", STOP)
    assert r.status == 409
    assert "is used by inference endpoint [ep]" in r.reason


async def test_stats_sorted_by_model_then_deployment_with_count_of_models(sim: Simulator, http: Http) -> None:
    sim.control.add_model("aaa", 1000)
    for dep in ("zeta", "alpha"):
        assert (await http("POST", START, params={"deployment_id": dep})).status == 200
    r = await http("GET", "/_ml/trained_models/_all/_stats")
    assert r.body["count"] == 3
    ids = [(e["model_id"], e.get("deployment_stats", {}).get("deployment_id")) for e in r.body["trained_model_stats"]]
    assert ids == [("aaa", None), (MODEL, "alpha"), (MODEL, "zeta"), ("lang_ident_model_1", None)]


async def test_stats_by_deployment_id_returns_only_that_entry(http: Http) -> None:
    for dep in ("one", "two"):
        await http("POST", START, params={"deployment_id": dep})
    r = await http("GET", "/_ml/trained_models/two/_stats")
    assert r.body["count"] == 1
    assert [e["deployment_stats"]["deployment_id"] for e in r.body["trained_model_stats"]] == ["two"]
    r = await http("GET", "/_ml/trained_models/t*,lang_ident_model_1/_stats")
    assert r.body["count"] == 2


async def test_stats_missing_explicit_id_is_404_even_with_allow_no_match(http: Http) -> None:
    r = await http("GET", "/_ml/trained_models/nope,other/_stats", params={"allow_no_match": "true"})
    assert (r.status, r.reason) == (404, "No known trained model with model_id [nope,other]")


async def test_stats_wildcard_without_match(http: Http) -> None:
    r = await http("GET", "/_ml/trained_models/zz*/_stats")
    assert r.body == {"count": 0, "trained_model_stats": []}
    r = await http("GET", "/_ml/trained_models/zz*/_stats", params={"allow_no_match": "false"})
    assert r.status == 404


async def test_stats_paging_counts_all_models(http: Http) -> None:
    r = await http("GET", "/_ml/trained_models/_stats", params={"from": "1", "size": "1"})
    assert r.body["count"] == 2
    assert [e["model_id"] for e in r.body["trained_model_stats"]] == ["lang_ident_model_1"]


async def test_stats_human_and_cache_size_forms(http: Http) -> None:
    r = await http("POST", START, params={"cache_size": "10kb"})
    assert r.body["assignment"]["task_parameters"]["cache_size"] == "10kb"
    s = await http("GET", f"/_ml/trained_models/{MODEL}/_stats", params={"human": "true"})
    entry = s.body["trained_model_stats"][0]
    assert entry["deployment_stats"]["cache_size"] == "10kb"
    assert entry["model_size_stats"]["model_size"] == "1.5kb"
    assert entry["model_size_stats"]["required_native_memory_bytes"] == 240 * 1024 * 1024 + 2 * 1630
    assert "start_time_string" in entry["deployment_stats"]


async def test_default_cache_size_renders_two_ways(http: Http) -> None:
    r = await http("POST", START)
    assert r.body["assignment"]["task_parameters"]["cache_size"] == "1630b"
    s = await http("GET", f"/_ml/trained_models/{MODEL}/_stats")
    assert s.body["trained_model_stats"][0]["deployment_stats"]["cache_size"] == "1.5kb"
    await http("POST", STOP)
    r = await http("POST", START, params={"cache_size": "0"})
    assert r.body["assignment"]["task_parameters"]["cache_size"] == "0"
    s = await http("GET", f"/_ml/trained_models/{MODEL}/_stats")
    assert s.body["trained_model_stats"][0]["deployment_stats"]["cache_size"] == "0b"


async def test_get_models_ids_wildcards_and_definition_status(sim: Simulator, http: Http) -> None:
    r = await http("GET", "/_ml/trained_models")
    assert [c["model_id"] for c in r.body["trained_model_configs"]] == [MODEL, "lang_ident_model_1"]
    r = await http("GET", f"/_ml/trained_models/{MODEL}", params={"include": "definition_status"})
    assert r.body["trained_model_configs"][0]["fully_defined"] is True
    await http("POST", START, params={"deployment_id": "dep-x"})
    r = await http("GET", "/_ml/trained_models/dep-x")
    assert r.status == 404  # deployment ids are not resolved by GET models
    r = await http("GET", f"/_ml/trained_models/{MODEL}", params={"include": "definition"})
    assert r.status == 400


async def test_put_model_conflicts(http: Http) -> None:
    body = {"model_type": "pytorch", "inference_config": {"ner": {}}, "input": {"field_names": ["t"]}}
    r = await http("PUT", f"/_ml/trained_models/{MODEL}", body)
    assert (r.status, r.error_type) == (400, "resource_already_exists_exception")
    await http("POST", START, params={"deployment_id": "taken"})
    r = await http("PUT", "/_ml/trained_models/taken", body)
    assert (r.status, r.error_type) == (400, "status_exception")
    r = await http("PUT", "/_ml/trained_models/Bad_Id", body)
    assert r.error_type == "action_request_validation_exception"


async def test_delete_deployed_model_needs_force(http: Http) -> None:
    await http("POST", START)
    r = await http("DELETE", f"/_ml/trained_models/{MODEL}")
    assert r.status == 409
    r = await http("DELETE", f"/_ml/trained_models/{MODEL}", params={"force": "true"})
    assert r.body == {"acknowledged": True}
    assert (await http("GET", f"/_ml/trained_models/{MODEL}")).status == 404
