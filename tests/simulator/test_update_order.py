"""One test per step of the update processing order (as Elasticsearch's transport action runs it)."""

from __future__ import annotations

from esml_simulator import Simulator

from .conftest import MODEL, Http, SimFactory

START = f"/_ml/trained_models/{MODEL}/deployment/_start"
UPDATE = f"/_ml/trained_models/{MODEL}/deployment/_update"
ADAPTIVE = {"enabled": True, "min_number_of_allocations": 1, "max_number_of_allocations": 4}


async def test_body_is_required_without_the_query_parameter(http: Http) -> None:
    r = await http("POST", UPDATE)
    assert (r.status, r.error_type, r.reason) == (400, "parse_exception", "request body is required")


async def test_query_parameter_plus_body_is_rejected(http: Http) -> None:
    r = await http("POST", UPDATE, {"number_of_allocations": 2}, params={"number_of_allocations": "2"})
    assert (r.status, r.error_type) == (400, "illegal_argument_exception")
    assert r.reason == f"request [POST {UPDATE}] does not support having a body"


async def test_query_form_updates(http: Http) -> None:
    await http("POST", START)
    r = await http("POST", UPDATE, params={"number_of_allocations": "2"})
    assert r.body["assignment"]["task_parameters"]["number_of_allocations"] == 2


async def test_step1_validation_before_lookup(http: Http) -> None:
    r = await http(
        "POST",
        "/_ml/trained_models/nope/deployment/_update",
        {"number_of_allocations": 0, "adaptive_allocations": {"enabled": True}},
    )
    assert (r.status, r.error_type) == (400, "action_request_validation_exception")
    assert r.reason == (
        "Validation Failed: 1: [number_of_allocations] must be a positive integer;"
        "2: [number_of_allocations] cannot be set if adaptive allocations is enabled;"
    )


async def test_step2_deployment_owned_by_inference_endpoint(sim: Simulator, http: Http) -> None:
    await http("POST", START, params={"deployment_id": "my-endpoint"})
    sim.control.add_inference_endpoint("my-endpoint")  # owns the deployment named after it
    r = await http("POST", "/_ml/trained_models/my-endpoint/deployment/_update", {"number_of_allocations": 2})
    assert (r.status, r.error_type) == (409, "status_exception")
    assert r.reason.startswith(
        "Cannot update deployment [my-endpoint] as it was created by inference endpoint [my-endpoint]"
    )


async def test_step3_unknown_deployment(http: Http) -> None:
    r = await http("POST", UPDATE, {"number_of_allocations": 2})
    assert (r.status, r.error_type, r.reason) == (
        404,
        "resource_not_found_exception",
        f"No known model deployment with id [{MODEL}]",
    )


async def test_step4_merged_adaptive_enabled_with_count_is_validation_exception(http: Http) -> None:
    await http("POST", START, {"adaptive_allocations": ADAPTIVE})
    # same value as stored: still a 400 (step 4 runs before the no-op check)
    r = await http("POST", UPDATE, {"number_of_allocations": 1})
    assert (r.status, r.error_type) == (400, "validation_exception")
    assert r.reason == (
        "Validation Failed: 1: [number_of_allocations] cannot be set if adaptive allocations is enabled;"
    )


async def test_step4_merged_bounds_invalid(http: Http) -> None:
    await http(
        "POST",
        START,
        {"adaptive_allocations": {"enabled": True, "min_number_of_allocations": 3, "max_number_of_allocations": 4}},
    )
    r = await http("POST", UPDATE, {"adaptive_allocations": {"max_number_of_allocations": 2}})
    assert (r.status, r.error_type) == (400, "action_request_validation_exception")


async def test_step4_merge_keeps_omitted_keys_and_null_clears(http: Http) -> None:
    await http("POST", START, {"adaptive_allocations": ADAPTIVE})
    r = await http("POST", UPDATE, {"adaptive_allocations": {"max_number_of_allocations": 8}})
    assert r.body["assignment"]["adaptive_allocations"] == {
        "enabled": True,
        "min_number_of_allocations": 1,
        "max_number_of_allocations": 8,
    }
    r = await http("POST", UPDATE, {"adaptive_allocations": {"min_number_of_allocations": None}})
    assert r.body["assignment"]["adaptive_allocations"] == {"enabled": True, "max_number_of_allocations": 8}
    r = await http("POST", UPDATE, {"adaptive_allocations": None})
    assert r.body["assignment"]["adaptive_allocations"] is None


async def test_switching_back_to_a_fixed_count_in_one_call(http: Http) -> None:
    await http("POST", START, {"adaptive_allocations": ADAPTIVE})
    r = await http("POST", UPDATE, {"number_of_allocations": 3, "adaptive_allocations": {"enabled": False}})
    assert r.status == 200, r.body
    assert r.body["assignment"]["task_parameters"]["number_of_allocations"] == 3
    assert r.body["assignment"]["adaptive_allocations"]["enabled"] is False


async def test_step5_noop_returns_200_even_while_starting(make_sim: SimFactory, session: object) -> None:
    sim = await make_sim(allocation_delay=10.0)
    http = Http(sim, session)  # type: ignore[arg-type]
    await http("POST", START, params={"wait_for": "starting"})
    r = await http("POST", UPDATE, {"number_of_allocations": 1})
    assert r.status == 200
    assert r.body["assignment"]["assignment_state"] == "starting"


async def test_step5_adaptive_compared_as_sent_not_merged(make_sim: SimFactory, session: object) -> None:
    sim = await make_sim(allocation_delay=10.0)
    http = Http(sim, session)  # type: ignore[arg-type]
    await http("POST", START, {"adaptive_allocations": ADAPTIVE}, params={"wait_for": "starting"})
    same = await http("POST", UPDATE, {"adaptive_allocations": ADAPTIVE})
    assert same.status == 200
    partial = await http("POST", UPDATE, {"adaptive_allocations": {"enabled": True}})
    assert partial.status == 409


async def test_step5_explicit_null_with_nothing_stored_is_a_change(make_sim: SimFactory, session: object) -> None:
    sim = await make_sim(allocation_delay=10.0)
    http = Http(sim, session)  # type: ignore[arg-type]
    await http("POST", START, params={"wait_for": "starting"})
    r = await http("POST", UPDATE, {"adaptive_allocations": None})
    assert r.status == 409


async def test_step6_not_started_is_409(make_sim: SimFactory, session: object) -> None:
    sim = await make_sim(allocation_delay=10.0)
    http = Http(sim, session)  # type: ignore[arg-type]
    await http("POST", START, params={"wait_for": "starting"})
    r = await http("POST", UPDATE, {"number_of_allocations": 2})
    assert (r.status, r.reason) == (409, "cannot update deployment that is not in [started] state")


async def test_step7_increase_beyond_capacity_is_429_and_changes_nothing(http: Http) -> None:
    await http("POST", START)
    r = await http("POST", UPDATE, {"number_of_allocations": 9})
    assert (r.status, r.error_type) == (429, "status_exception")
    assert r.reason == (
        "Could not update deployment because there are not enough resources to provide all requested allocations"
    )
    stats = await http("GET", f"/_ml/trained_models/{MODEL}/_stats")
    assert stats.body["trained_model_stats"][0]["deployment_stats"]["number_of_allocations"] == 1


async def test_step7_increase_raises_targets_before_current(make_sim: SimFactory, session: object) -> None:
    sim = await make_sim(nodes=1, allocation_delay=3.0)
    http = Http(sim, session)  # type: ignore[arg-type]
    await http("POST", START, params={"wait_for": "starting"})
    sim.control.advance(3.0)
    r = await http("POST", UPDATE, {"number_of_allocations": 3})
    route = next(iter(r.body["assignment"]["routing_table"].values()))
    assert (route["current_allocations"], route["target_allocations"], route["routing_state"]) == (1, 3, "started")
    sim.control.advance(3.0)
    state = sim.control.state()["deployments"][MODEL]["assignment"]["routing_table"]
    assert next(iter(state.values()))["current_allocations"] == 3


async def test_step7_increase_with_scaling_possible_is_accepted(make_sim: SimFactory, session: object) -> None:
    sim = await make_sim(can_scale=True)
    http = Http(sim, session)  # type: ignore[arg-type]
    await http("POST", START)
    r = await http("POST", UPDATE, {"number_of_allocations": 12})
    assert r.status == 200
    assert r.body["assignment"]["task_parameters"]["number_of_allocations"] == 12
    assert "Could not assign (more) allocations" in r.body["assignment"]["reason"]


async def test_step7_decrease_empties_whole_nodes_and_clears_reason(make_sim: SimFactory, session: object) -> None:
    sim = await make_sim(can_scale=True)
    http = Http(sim, session)  # type: ignore[arg-type]
    await http("POST", START, params={"number_of_allocations": "10"})
    r = await http("POST", UPDATE, {"number_of_allocations": 4})
    assignment = r.body["assignment"]
    assert "reason" not in assignment
    targets = sorted(x["target_allocations"] for x in assignment["routing_table"].values())
    assert targets == [4]


async def test_step8_returns_the_new_assignment(http: Http) -> None:
    await http("POST", START)
    r = await http("POST", UPDATE, {"number_of_allocations": 2, "model_id": MODEL})
    assert r.status == 200
    assert set(r.body["assignment"]) == {
        "task_parameters",
        "routing_table",
        "assignment_state",
        "start_time",
        "max_assigned_allocations",
        "adaptive_allocations",
    }


async def test_body_model_id_must_match_path(http: Http) -> None:
    r = await http("POST", UPDATE, {"number_of_allocations": 2, "model_id": "other"})
    assert (r.status, r.error_type) == (400, "status_exception")
    assert r.reason == (
        f"Inconsistent model_id; 'other' specified in the body differs from '{MODEL}' specified as a URL argument"
    )


async def test_fixed_start_settings_cannot_be_updated(http: Http) -> None:
    await http("POST", START)
    r = await http("POST", UPDATE, {"threads_per_allocation": 2})
    assert (r.status, r.error_type) == (400, "x_content_parse_exception")
