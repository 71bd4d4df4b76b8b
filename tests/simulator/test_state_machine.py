"""State transitions: routes, assignment state, allocation status, stopping, failed, adaptive."""

from __future__ import annotations

import asyncio
from typing import Any

from esml_simulator import Simulator
from harness.polling import wait_for_async

from .conftest import MODEL, Http, SimFactory, settle

START = f"/_ml/trained_models/{MODEL}/deployment/_start"
UPDATE = f"/_ml/trained_models/{MODEL}/deployment/_update"
STATS = f"/_ml/trained_models/{MODEL}/_stats"


async def dstats(http: Http) -> dict[str, Any]:
    r = await http("GET", STATS)
    assert r.status == 200, r.body
    entry = r.body["trained_model_stats"][0]
    return dict(entry.get("deployment_stats") or {})


async def delayed(make_sim: SimFactory, session: object, **kw: Any) -> tuple[Simulator, Http]:
    sim = await make_sim(allocation_delay=5.0, **kw)
    return sim, Http(sim, session)  # type: ignore[arg-type]


async def test_route_starting_to_started_after_the_delay(make_sim: SimFactory, session: object) -> None:
    sim, http = await delayed(make_sim, session)
    await http("POST", START, params={"wait_for": "starting"})
    s = await dstats(http)
    assert s["state"] == "starting"
    assert [n["routing_state"] for n in s["nodes"]] == [{"routing_state": "starting"}]
    assert s["allocation_status"] == {"allocation_count": 0, "target_allocation_count": 1, "state": "starting"}
    sim.control.advance(4.9)
    assert (await dstats(http))["state"] == "starting"
    sim.control.advance(0.1)
    s = await dstats(http)
    assert s["state"] == "started"
    assert s["nodes"][0]["routing_state"] == {"routing_state": "started"}
    assert s["allocation_status"]["state"] == "fully_allocated"


async def test_allocation_status_starting_started_fully_allocated(make_sim: SimFactory, session: object) -> None:
    sim, http = await delayed(make_sim, session, nodes=1)
    await http("POST", START, params={"wait_for": "starting"})
    assert (await dstats(http))["allocation_status"]["state"] == "starting"
    sim.control.advance(5)
    await http("POST", UPDATE, {"number_of_allocations": 2})
    status = (await dstats(http))["allocation_status"]
    assert status == {"allocation_count": 1, "target_allocation_count": 2, "state": "started"}
    sim.control.advance(5)
    assert (await dstats(http))["allocation_status"]["state"] == "fully_allocated"


async def test_max_assigned_allocations_is_a_high_water_mark(http: Http) -> None:
    await http("POST", START, params={"number_of_allocations": "3"})
    r = await http("POST", UPDATE, {"number_of_allocations": 1})
    assert r.body["assignment"]["max_assigned_allocations"] == 3


async def test_stopping_is_visible_then_the_deployment_vanishes(make_sim: SimFactory, session: object) -> None:
    sim = await make_sim(stop_delay=2.0)
    http = Http(sim, session)  # type: ignore[arg-type]
    await http("POST", START)
    call = asyncio.create_task(http("POST", f"/_ml/trained_models/{MODEL}/deployment/_stop"))
    await wait_for_async(
        lambda: sim.cluster.deployments[MODEL].state == "stopping", within=2.0, interval=0.005, what="stopping"
    )
    s = await dstats(http)
    assert s["state"] == "stopping"
    assert s["reason"] == "client API call"
    assert "allocation_status" not in s
    assert s["nodes"][0]["routing_state"] == {"routing_state": "stopping"}
    await settle(sim, 2.0)
    assert (await call).body == {"stopped": True}
    assert await dstats(http) == {}


async def test_failed_only_in_stats_when_every_route_failed(make_sim: SimFactory, session: object) -> None:
    sim = await make_sim(nodes=1)
    http = Http(sim, session)  # type: ignore[arg-type]
    await http("POST", START)
    sim.control.fail_node("ml-0", mode="process_failure")
    s = await dstats(http)
    assert s["state"] == "failed"
    assert s["reason"] == "All node routes are failed; see node route reason for details"
    assert s["allocation_status"]["state"] == "starting"
    assert s["nodes"][0]["routing_state"]["routing_state"] == "failed"
    assert sim.control.state()["deployments"][MODEL]["assignment"]["assignment_state"] == "starting"
    sim.control.restore_node("ml-0")
    s = await dstats(http)
    assert s["state"] == "started"
    assert s["nodes"][0]["routing_state"] == {"routing_state": "started"}


async def test_failed_route_restarts_after_restore_with_delay(make_sim: SimFactory, session: object) -> None:
    sim, http = await delayed(make_sim, session, nodes=1)
    call = asyncio.create_task(http("POST", START))
    await settle(sim, 5.0)
    await call
    sim.control.fail_node("ml-0", mode="process_failure")
    sim.control.restore_node("ml-0")
    s = await dstats(http)
    assert s["nodes"][0]["routing_state"] == {"routing_state": "starting"}
    sim.control.advance(5)
    assert (await dstats(http))["state"] == "started"


async def test_node_leaving_moves_allocations(make_sim: SimFactory, session: object) -> None:
    sim = await make_sim(nodes=2)
    http = Http(sim, session)  # type: ignore[arg-type]
    await http("POST", START, params={"number_of_allocations": "2"})
    sim.control.fail_node("ml-0")
    s = await dstats(http)
    assert len(s["nodes"]) == 1
    assert s["allocation_status"]["allocation_count"] == 2
    assert next(iter(s["nodes"][0]["node"].values()))["name"] == "ml-1"


async def test_node_leaving_without_room_leaves_a_partial_deployment(make_sim: SimFactory, session: object) -> None:
    sim = await make_sim(nodes=2)
    http = Http(sim, session)  # type: ignore[arg-type]
    await http("POST", START, params={"number_of_allocations": "8"})
    sim.control.fail_node("ml-1")
    s = await dstats(http)
    assert s["allocation_status"] == {"allocation_count": 4, "target_allocation_count": 8, "state": "started"}
    assert "Could not assign (more) allocations on node" in s["reason"]
    sim.control.restore_node("ml-1")
    assert (await dstats(http))["allocation_status"]["state"] == "fully_allocated"


async def test_stopping_frees_capacity_for_waiting_deployments(make_sim: SimFactory, session: object) -> None:
    sim = await make_sim(nodes=1, can_scale=True)
    http = Http(sim, session)  # type: ignore[arg-type]
    await http("POST", START, params={"number_of_allocations": "4", "deployment_id": "first"})
    r = await http("POST", START, params={"number_of_allocations": "2", "deployment_id": "second"})
    assert r.body["assignment"]["routing_table"] == {}
    await http("POST", "/_ml/trained_models/first/deployment/_stop")
    second = sim.control.state()["deployments"]["second"]
    assert second["allocation_status"]["allocation_count"] == 2


async def test_low_priority_uses_no_processors(make_sim: SimFactory, session: object) -> None:
    sim = await make_sim(nodes=1, processors=1)
    http = Http(sim, session)  # type: ignore[arg-type]
    assert (await http("POST", START, params={"deployment_id": "a"})).status == 200
    r = await http("POST", START, params={"deployment_id": "b", "priority": "low"})
    assert r.status == 200
    assert r.body["assignment"]["task_parameters"]["priority"] == "low"


async def test_adaptive_scales_with_load_and_back(make_sim: SimFactory, session: object) -> None:
    sim = await make_sim(adaptive_interval=10.0, scale_to_zero_time=3600.0)
    http = Http(sim, session)  # type: ignore[arg-type]
    await http(
        "POST",
        START,
        {"adaptive_allocations": {"enabled": True, "min_number_of_allocations": 0, "max_number_of_allocations": 4}},
    )
    assert (await dstats(http))["allocation_status"]["allocation_count"] == 1
    sim.control.set_load(MODEL, requests_per_second=25, inference_time_ms=100)  # demand 2.5 allocations
    sim.control.advance(10)
    s = await dstats(http)
    assert s["number_of_allocations"] == 3
    assert s["allocation_status"]["state"] == "fully_allocated"
    assert s["adaptive_allocations"] == {
        "enabled": True,
        "min_number_of_allocations": 0,
        "max_number_of_allocations": 4,
    }
    sim.control.set_load(MODEL, requests_per_second=100)  # demand 10: capped at max 4
    sim.control.advance(10)
    assert (await dstats(http))["number_of_allocations"] == 4
    sim.control.set_load(MODEL, requests_per_second=0)
    sim.control.advance(10)
    assert (await dstats(http))["number_of_allocations"] == 4  # scale-up cooldown
    sim.control.advance(300)
    assert (await dstats(http))["number_of_allocations"] == 1
    sim.control.advance(3600)
    s = await dstats(http)
    assert s["number_of_allocations"] == 0
    assert s["state"] == "started"
    assert s["allocation_status"] == {"allocation_count": 0, "target_allocation_count": 0, "state": "fully_allocated"}
    sim.control.set_load(MODEL, requests_per_second=5)
    sim.control.advance(10)
    assert (await dstats(http))["allocation_status"]["allocation_count"] == 1


async def test_adaptive_min_is_the_floor(make_sim: SimFactory, session: object) -> None:
    sim = await make_sim()
    http = Http(sim, session)  # type: ignore[arg-type]
    await http("POST", START, {"adaptive_allocations": {"enabled": True, "min_number_of_allocations": 2}})
    sim.control.advance(86400 * 2)
    assert (await dstats(http))["number_of_allocations"] == 2


async def test_inference_counts_follow_the_load(make_sim: SimFactory, session: object) -> None:
    sim = await make_sim()
    http = Http(sim, session)  # type: ignore[arg-type]
    await http("POST", START)
    sim.control.set_load(MODEL, requests_per_second=2)
    sim.control.advance(30)
    s = await dstats(http)
    assert s["inference_count"] == 60
    assert s["nodes"][0]["inference_count"] == 60
