"""One test per step of the start processing order (the transport action's), each showing it runs before the next."""

from __future__ import annotations

import asyncio

from esml_simulator import Simulator

from .conftest import MODEL, Http, SimFactory, settle

START = f"/_ml/trained_models/{MODEL}/deployment/_start"


def start_path(model_id: str) -> str:
    return f"/_ml/trained_models/{model_id}/deployment/_start"


async def test_step1_validation_collects_all_errors_in_server_order(http: Http) -> None:
    r = await http(
        "POST", START, params={"number_of_allocations": "0", "threads_per_allocation": "3", "queue_capacity": "0"}
    )
    assert (r.status, r.error_type) == (400, "action_request_validation_exception")
    assert r.reason == (
        "Validation Failed: 1: [number_of_allocations] must be a positive integer;"
        "2: [threads_per_allocation] must be a power of 2 less than or equal to 32;"
        "3: [queue_capacity] must be a positive integer;"
    )


async def test_step1_every_validation_message(http: Http) -> None:
    r = await http(
        "POST",
        START,
        {"adaptive_allocations": {"enabled": True, "min_number_of_allocations": -1, "max_number_of_allocations": 0}},
        params={
            "number_of_allocations": "0",
            "threads_per_allocation": "0",
            "queue_capacity": "100001",
            "timeout": "0",
            "priority": "low",
        },
    )
    assert r.reason == (
        "Validation Failed: 1: [number_of_allocations] must be a positive integer;"
        "2: [number_of_allocations] cannot be set if adaptive allocations is enabled;"
        "3: [threads_per_allocation] must be a positive integer;"
        "4: [min_number_of_allocations] must be a non-negative integer or null;"
        "5: [max_number_of_allocations] must be a positive integer or null;"
        "6: [threads_per_allocation] must be a power of 2 less than or equal to 32;"
        "7: [queue_capacity] must be less than 100000;"
        "8: [timeout] must be positive;"
    )
    r = await http(
        "POST", START, params={"number_of_allocations": "2", "threads_per_allocation": "2", "priority": "low"}
    )
    assert r.reason == (
        "Validation Failed: 1: [number_of_allocations] must be 1 when [priority] is low;"
        "2: [threads_per_allocation] must be 1 when [priority] is low;"
    )
    r = await http(
        "POST",
        START,
        {"adaptive_allocations": {"enabled": True, "min_number_of_allocations": 3, "max_number_of_allocations": 2}},
    )
    assert r.reason == (
        "Validation Failed: 1: [min_number_of_allocations] must not be larger than [max_number_of_allocations];"
    )


async def test_step1_validation_runs_before_the_license_check(sim: Simulator, http: Http) -> None:
    sim.control.set_cluster(license="basic")
    r = await http("POST", START, params={"number_of_allocations": "0"})
    assert r.error_type == "action_request_validation_exception"


async def test_step2_license(sim: Simulator, http: Http) -> None:
    sim.control.set_cluster(license="basic", upgrade_in_progress=True)
    r = await http("POST", START)
    assert (r.status, r.error_type) == (403, "security_exception")
    assert r.reason == "current license is non-compliant for [ml]"


async def test_step3_upgrade_in_progress(sim: Simulator, http: Http) -> None:
    sim.control.set_cluster(upgrade_in_progress=True)
    r = await http("POST", START)
    assert (r.status, r.error_type) == (403, "status_exception")
    assert r.reason == f"Cannot start model deployment [{MODEL}] while cluster upgrade is in progress."


async def test_step4_hundred_deployment_cap(make_sim: SimFactory, session: object) -> None:
    sim = await make_sim(nodes=2, processors=64, node_memory=64 * 1024**3)
    http = Http(sim, session)  # type: ignore[arg-type]
    for i in range(100):
        r = await http("POST", START, params={"deployment_id": f"d{i}"})
        assert r.status == 200, r.body
    r = await http("POST", START, params={"deployment_id": "d0"})  # also a duplicate: the cap is checked first
    assert (r.status, r.error_type) == (429, "status_exception")
    assert r.reason == "Could not start model deployment because existing deployments reached the limit of [100]"


async def test_step5_duplicate_deployment_id(sim: Simulator, http: Http) -> None:
    await http("POST", START)
    sim.control.add_inference_endpoint(MODEL, "other")
    r = await http("POST", START)
    assert (r.status, r.error_type) == (400, "status_exception")
    assert r.reason == (
        f"Could not start model deployment because an existing deployment with the same id [{MODEL}] exist"
    )


async def test_step6_model_id_equals_an_inference_endpoint_id(sim: Simulator, http: Http) -> None:
    sim.control.add_inference_endpoint("no-such-model")
    r = await http("POST", start_path("no-such-model"))
    assert (r.status, r.error_type) == (400, "status_exception")


async def test_step7_model_missing(http: Http) -> None:
    r = await http("POST", start_path("missing"), params={"deployment_id": MODEL})
    assert (r.status, r.error_type, r.reason) == (
        404,
        "resource_not_found_exception",
        "No known trained model with model_id [missing]",
    )


async def test_step7_only_pytorch_models_deploy(http: Http) -> None:
    r = await http("POST", start_path("lang_ident_model_1"))
    assert (r.status, r.error_type) == (400, "status_exception")
    assert r.reason == (
        "model [lang_ident_model_1] of type [lang_ident] cannot be deployed. Only PyTorch models can be deployed"
    )


async def test_step7_pattern_matching_several_models(sim: Simulator, http: Http) -> None:
    sim.control.add_model("m-a", 1000)
    sim.control.add_model("m-b", 1000)
    r = await http("POST", start_path("m-*"))
    assert (r.status, r.error_type) == (400, "status_exception")


async def test_step8_deployment_id_of_another_model(sim: Simulator, http: Http) -> None:
    sim.control.add_model("other-model", 1000)
    r = await http("POST", START, params={"deployment_id": "other-model"})
    assert (r.status, r.error_type) == (400, "status_exception")
    assert r.reason.startswith("Deployment id [other-model] is the same as an another model")
    ok = await http("POST", START, params={"deployment_id": MODEL})
    assert ok.status == 200


async def test_step9_definition_missing(http: Http) -> None:
    await http(
        "PUT",
        "/_ml/trained_models/bare",
        {"model_type": "pytorch", "inference_config": {"ner": {}}, "input": {"field_names": ["t"]}},
    )
    r = await http("POST", start_path("bare"))
    assert (r.status, r.error_type, r.reason) == (
        404,
        "resource_not_found_exception",
        "Could not find trained model definition [bare]",
    )


async def test_step9_definition_truncated(http: Http) -> None:
    await http(
        "PUT",
        "/_ml/trained_models/half",
        {"model_type": "pytorch", "inference_config": {"ner": {}}, "input": {"field_names": ["t"]}},
    )
    r = await http(
        "PUT",
        "/_ml/trained_models/half/definition/0",
        {"definition": "AAAA", "total_definition_length": 6, "total_parts": 2},
    )
    assert r.status == 200, r.body
    r = await http("POST", start_path("half"))
    assert (r.status, r.error_type) == (400, "status_exception")
    assert r.reason == "Model definition truncated. Unable to deserialize trained model definition [half]"
    await http(
        "PUT",
        "/_ml/trained_models/half/definition/1",
        {"definition": "AAAA", "total_definition_length": 6, "total_parts": 2},
    )
    await http("PUT", "/_ml/trained_models/half/vocabulary", {"vocabulary": ["a"]})
    r = await http("POST", start_path("half"))
    assert r.status == 200, r.body


async def test_step10_feature_reset(sim: Simulator, http: Http) -> None:
    sim.control.set_cluster(feature_reset_in_progress=True)
    r = await http("POST", START, params={"number_of_allocations": "1000"})
    assert (r.status, r.error_type) == (409, "status_exception")


async def test_step11_nothing_placeable_is_429_with_nested_cause(http: Http) -> None:
    r = await http("POST", START, params={"threads_per_allocation": "8"})
    assert (r.status, r.error_type) == (429, "status_exception")
    assert r.reason == "Could not start deployment because no ML nodes with sufficient capacity were found"
    assert r.body["error"]["caused_by"]["type"] == "illegal_state_exception"
    assert "insufficient allocated processors" in r.body["error"]["caused_by"]["reason"]
    assert r.body["error"]["root_cause"] == [{"type": "status_exception", "reason": r.reason}]
    stats = await http("GET", f"/_ml/trained_models/{MODEL}/_stats")
    assert "deployment_stats" not in stats.body["trained_model_stats"][0]


async def test_step11_partially_placeable_is_429(http: Http) -> None:
    r = await http("POST", START, params={"number_of_allocations": "9"})
    assert (r.status, r.reason) == (
        429,
        "Could not start deployment because there are not enough resources to provide all requested allocations",
    )


async def test_step11_scaling_possible_creates_and_waits(make_sim: SimFactory, session: object) -> None:
    sim = await make_sim(can_scale=True)
    http = Http(sim, session)  # type: ignore[arg-type]
    r = await http("POST", START, params={"number_of_allocations": "10"})
    assert r.status == 200
    assignment = r.body["assignment"]
    assert sum(x["target_allocations"] for x in assignment["routing_table"].values()) == 8
    assert "Could not assign (more) allocations on node" in assignment["reason"]
    sim.control.add_node()
    stats = await http("GET", f"/_ml/trained_models/{MODEL}/_stats")
    status = stats.body["trained_model_stats"][0]["deployment_stats"]["allocation_status"]
    assert status == {"allocation_count": 10, "target_allocation_count": 10, "state": "fully_allocated"}


async def test_step11_no_ml_nodes_with_scaling_returns_starting(make_sim: SimFactory, session: object) -> None:
    sim = await make_sim(can_scale=True, nodes=0)
    http = Http(sim, session)  # type: ignore[arg-type]
    r = await http("POST", START, params={"wait_for": "fully_allocated"})
    assert r.status == 200
    assert r.body["assignment"]["assignment_state"] == "starting"
    assert r.body["assignment"]["routing_table"] == {}
    assert r.body["assignment"]["reason"] == "No ML nodes exist in the cluster"


async def test_step12_timeout_keeps_the_deployment(make_sim: SimFactory, session: object) -> None:
    sim = await make_sim(allocation_delay=10.0)
    http = Http(sim, session)  # type: ignore[arg-type]
    call = asyncio.create_task(http("POST", START, params={"timeout": "5s"}))
    await settle(sim, 5.0)
    r = await call
    assert (r.status, r.error_type) == (408, "model_deployment_timeout_exception")
    assert r.reason.startswith(f"Timed out after [5s] waiting for trained model deployment [{MODEL}] to start.")
    assert MODEL in sim.cluster.deployments
    sim.control.advance(5.0)
    assert sim.cluster.deployments[MODEL].state == "started"


async def test_step12_wait_for_starting_returns_at_once(make_sim: SimFactory, session: object) -> None:
    sim = await make_sim(allocation_delay=10.0)
    http = Http(sim, session)  # type: ignore[arg-type]
    r = await http("POST", START, params={"wait_for": "starting"})
    assert r.status == 200
    assert r.body["assignment"]["assignment_state"] == "starting"
    route = next(iter(r.body["assignment"]["routing_table"].values()))
    assert route == {"current_allocations": 1, "target_allocations": 1, "routing_state": "starting", "reason": ""}


async def test_step12_waits_for_started_on_the_clock(make_sim: SimFactory, session: object) -> None:
    sim = await make_sim(allocation_delay=2.0)
    http = Http(sim, session)  # type: ignore[arg-type]
    call = asyncio.create_task(http("POST", START))
    await settle(sim, 2.0)
    r = await call
    assert r.body["assignment"]["assignment_state"] == "started"


async def test_step12_failed_node_is_500_and_deletes(make_sim: SimFactory, session: object) -> None:
    sim = await make_sim(nodes=1, allocation_delay=1.0)
    http = Http(sim, session)  # type: ignore[arg-type]
    sim.control.fail_node("ml-0", mode="process_failure")
    call = asyncio.create_task(http("POST", START))
    await settle(sim, 1.0)
    r = await call
    assert (r.status, r.error_type) == (500, "status_exception")
    assert r.reason.startswith("Could not start trained model deployment, the following nodes failed with errors [{")
    assert MODEL not in sim.cluster.deployments


async def test_step12_missing_vocabulary_fails_the_route(sim: Simulator, http: Http) -> None:
    sim.control.add_model("novocab", 1000, vocabulary=False)
    r = await http("POST", start_path("novocab"))
    assert r.status == 500
    assert "Could not find trained model vocabulary [novocab]" in r.reason
