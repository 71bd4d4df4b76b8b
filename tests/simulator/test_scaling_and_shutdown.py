"""Lazy ML nodes and node size limits decide whether a start beyond capacity waits; a node shutting down
gives its allocations up with Elasticsearch's route reason."""

from __future__ import annotations

from esml_simulator import Simulator

from .conftest import MODEL, Http, SimFactory

GIB = 1024**3
START = f"/_ml/trained_models/{MODEL}/deployment/_start"
STATS = f"/_ml/trained_models/{MODEL}/_stats"
NOT_ENOUGH = "Could not start deployment because there are not enough resources to provide all requested allocations"


async def _http(make_sim: SimFactory, session: object, **settings: object) -> tuple[Simulator, Http]:
    sim = await make_sim(**settings)
    return sim, Http(sim, session)  # type: ignore[arg-type]


async def _deployment_stats(http: Http) -> dict[str, object]:
    r = await http("GET", STATS)
    return dict(r.body["trained_model_stats"][0]["deployment_stats"])


async def test_lazy_nodes_equal_to_the_ml_nodes_cannot_scale(make_sim: SimFactory, session: object) -> None:
    _, http = await _http(make_sim, session, max_lazy_ml_nodes=2)
    r = await http("POST", START, params={"number_of_allocations": "9"})
    assert (r.status, r.reason) == (429, NOT_ENOUGH)


async def test_a_spare_lazy_node_makes_the_start_wait(make_sim: SimFactory, session: object) -> None:
    sim, http = await _http(make_sim, session, max_lazy_ml_nodes=3)
    r = await http("POST", START, params={"number_of_allocations": "9"})
    assert r.status == 200
    assert sum(x["target_allocations"] for x in r.body["assignment"]["routing_table"].values()) == 8
    assert "This node has insufficient allocated processors" in r.body["assignment"]["reason"]
    stats = await _deployment_stats(http)
    assert stats["allocation_status"] == {"allocation_count": 8, "target_allocation_count": 9, "state": "started"}
    # the total counts the node that may still join, as big as the biggest one
    limits = (await http("GET", "/_ml/info")).body["limits"]
    assert (limits["max_single_ml_node_processors"], limits["total_ml_processors"]) == (4, 12)
    sim.control.add_node()
    stats = await _deployment_stats(http)
    assert stats["allocation_status"]["state"] == "fully_allocated"
    # three nodes now: the cluster is at its limit, so a start beyond capacity is refused again
    assert not sim.cluster.scaling_possible
    refused = await http("POST", START, params={"number_of_allocations": "9", "deployment_id": "second"})
    assert (refused.status, refused.reason) == (429, NOT_ENOUGH)


async def test_no_ml_nodes_and_a_lazy_node_waits_with_an_empty_routing_table(
    make_sim: SimFactory, session: object
) -> None:
    sim, http = await _http(make_sim, session, nodes=0, max_lazy_ml_nodes=1)
    r = await http("POST", START)
    assert r.status == 200
    assignment = r.body["assignment"]
    assert (assignment["assignment_state"], assignment["routing_table"]) == ("starting", {})
    assert assignment["reason"] == "No ML nodes exist in the cluster"
    stats = await _deployment_stats(http)
    assert (stats["state"], stats["reason"], stats["nodes"]) == ("starting", "No ML nodes exist in the cluster", [])
    limits = (await http("GET", "/_ml/info")).body["limits"]
    assert limits == {"total_ml_memory": "0mb"}
    sim.control.add_node()
    assert (await _deployment_stats(http))["state"] == "started"


async def test_a_node_below_the_max_node_size_may_grow(make_sim: SimFactory, session: object) -> None:
    sim, http = await _http(make_sim, session, max_ml_node_size=16 * GIB)
    r = await http("POST", START, params={"number_of_allocations": "9"})
    assert r.status == 200
    # while nodes may grow their processor count is not known: Elasticsearch leaves the fields out
    limits = (await http("GET", "/_ml/info")).body["limits"]
    assert "max_single_ml_node_processors" not in limits and "total_ml_processors" not in limits
    assert sim.cluster.scaling_possible


async def test_nodes_at_the_max_node_size_cannot_grow(make_sim: SimFactory, session: object) -> None:
    _, http = await _http(make_sim, session, max_ml_node_size=8 * GIB)
    r = await http("POST", START, params={"number_of_allocations": "9"})
    assert (r.status, r.reason) == (429, NOT_ENOUGH)


async def test_scaling_settings_through_the_admin_api(sim: Simulator, http: Http) -> None:
    r = await http("PUT", "/_sim/cluster", {"max_lazy_ml_nodes": 3}, auth=None)
    assert r.status == 200
    assert (r.body["cluster"]["max_lazy_ml_nodes"], r.body["cluster"]["scaling_possible"]) == (3, True)
    bad = await http("PUT", "/_sim/cluster", {"max_ml_node_size": -1}, auth=None)
    assert (bad.status, bad.body["error"]) == (400, "[max_ml_node_size] must be a non-negative integer")
    assert (await http("POST", START, params={"number_of_allocations": "9"})).status == 200
    r = await http("PUT", "/_sim/cluster", {"max_lazy_ml_nodes": 0}, auth=None)
    assert r.body["cluster"]["scaling_possible"] is False


async def test_a_node_shutting_down_stops_its_routes_and_moves_them(make_sim: SimFactory, session: object) -> None:
    sim, http = await _http(make_sim, session, allocation_delay=1.0)
    assert (await http("POST", START, params={"number_of_allocations": "2", "wait_for": "starting"})).status == 200
    sim.control.advance(1.0)
    leaving, staying = sim.cluster.nodes
    assert set(sim.cluster.deployments[MODEL].routes) == {leaving.id, staying.id}
    r = await http("POST", "/_sim/nodes/ml-0/_shutdown", auth=None)
    assert (r.status, r.body["node"]["status"]) == (200, "shutting_down")
    sim.control.advance(5.0)
    routes = (await http("GET", STATS)).body["trained_model_stats"][0]["deployment_stats"]["nodes"]
    states = {next(iter(n["node"])): n["routing_state"] for n in routes}
    # the stopping route stays while the node is shutting down; the allocation moved to the other node
    assert states == {
        leaving.id: {"routing_state": "stopping", "reason": "node is shutting down"},
        staying.id: {"routing_state": "started"},
    }
    assert sim.cluster.deployments[MODEL].routes[staying.id].target == 2
    stats = await _deployment_stats(http)
    assert stats["allocation_status"] == {
        "allocation_count": 2,
        "target_allocation_count": 2,
        "state": "fully_allocated",
    }
    sim.control.restore_node("ml-0")
    assert list(sim.cluster.deployments[MODEL].routes) == [staying.id]


async def test_a_node_shutting_down_leaves_its_deployment_short_when_nothing_else_fits(
    make_sim: SimFactory, session: object
) -> None:
    sim, http = await _http(make_sim, session)
    assert (await http("POST", START, params={"number_of_allocations": "8"})).status == 200
    sim.control.shutdown_node("ml-1")
    stats = await _deployment_stats(http)
    assert stats["allocation_status"] == {"allocation_count": 4, "target_allocation_count": 8, "state": "started"}
    node = sim.cluster.nodes[0].id
    assert stats["reason"] == (
        f"Could not assign (more) allocations on node [{node}]. Reason: This node has insufficient allocated "
        "processors. Available processors [4], free processors [0], processors required for each allocation of "
        "this model [1]"
    )
    sim.control.fail_node("ml-1")
    assert sim.cluster.nodes[1].id not in sim.cluster.deployments[MODEL].routes


async def test_a_node_shutting_down_takes_no_new_allocations(sim: Simulator, http: Http) -> None:
    sim.control.shutdown_node("ml-1")
    r = await http("POST", START, params={"number_of_allocations": "5"})
    assert r.status == 429
    r = await http("POST", START, params={"number_of_allocations": "4"})
    assert r.status == 200
    assert list(r.body["assignment"]["routing_table"]) == [sim.cluster.nodes[0].id]
    sim.control.restore_node("ml-1")
    assert sim.cluster.nodes[1].status == "up"


async def test_only_shutting_down_nodes_is_like_no_ml_nodes(sim: Simulator, http: Http) -> None:
    sim.control.shutdown_node("ml-0")
    sim.control.shutdown_node("ml-1")
    r = await http("POST", START)
    assert r.status == 429
    assert r.body["error"]["caused_by"]["reason"] == "No ML nodes exist in the cluster"


async def test_scaling_settings_and_a_shutting_down_node_survive_a_restart(
    make_sim: SimFactory, session: object
) -> None:
    sim, _ = await _http(make_sim, session, max_lazy_ml_nodes=4, max_ml_node_size=16 * GIB)
    sim.control.shutdown_node("ml-0")
    saved = sim.engine.dump()
    again, _ = await _http(make_sim, session)
    again.engine.load(saved)
    settings = again.cluster.settings
    assert (settings.max_lazy_ml_nodes, settings.max_ml_node_size) == (4, 16 * GIB)
    assert again.cluster.nodes[0].status == "shutting_down"


async def test_an_update_beyond_capacity_waits_only_while_a_lazy_node_may_join(
    make_sim: SimFactory, session: object
) -> None:
    sim, http = await _http(make_sim, session, max_lazy_ml_nodes=3)
    assert (await http("POST", START, params={"number_of_allocations": "4"})).status == 200
    update = f"/_ml/trained_models/{MODEL}/deployment/_update"
    r = await http("POST", update, {"number_of_allocations": 10})
    assert r.status == 200
    stats = await _deployment_stats(http)
    assert stats["allocation_status"] == {"allocation_count": 8, "target_allocation_count": 10, "state": "started"}
    sim.control.add_node()
    r = await http("POST", update, {"number_of_allocations": 13})
    assert (r.status, r.reason) == (
        429,
        "Could not update deployment because there are not enough resources to provide all requested allocations",
    )
