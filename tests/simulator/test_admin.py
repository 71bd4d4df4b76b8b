"""The test-control API over HTTP (``/_sim/``) and in Python: faults, nodes, out-of-band changes, log, reset."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import aiohttp
import pytest
from elasticsearch import ApiError, AsyncElasticsearch, ConnectionError

from esml_simulator import AdminError, Simulator
from harness.polling import wait_for_async

from .conftest import MODEL, Http, SimFactory

START = f"/_ml/trained_models/{MODEL}/deployment/_start"
STATS = f"/_ml/trained_models/{MODEL}/_stats"


async def test_request_log_records_method_path_query_body_time(sim: Simulator, http: Http) -> None:
    await http(
        "POST",
        f"/_ml/trained_models/{MODEL}/deployment/_update",
        {"number_of_allocations": 2},
        params={"timeout": "5s"},
    )
    r = await http("GET", "/_sim/requests", auth=None)
    entry = r.body["requests"][-1]
    assert (entry["method"], entry["path"], entry["query"], entry["body"]) == (
        "POST",
        f"/_ml/trained_models/{MODEL}/deployment/_update",
        {"timeout": "5s"},
        {"number_of_allocations": 2},
    )
    assert entry["time"] == sim.clock.now()
    assert entry["headers"]["Authorization"] == "<redacted>"
    assert (await http("DELETE", "/_sim/requests", auth=None)).status == 200
    assert sim.control.requests() == []


async def test_status_fault_with_retry_after_counted(sim: Simulator, http: Http) -> None:
    r = await http(
        "POST",
        "/_sim/faults",
        {"endpoint": "stats", "kind": "status", "status": 429, "retry_after": 7, "count": 1},
        auth=None,
    )
    assert r.body["fault"]["endpoint"] == "stats"
    first = await http("GET", STATS)
    assert (first.status, first.headers["Retry-After"], first.error_type) == (
        429,
        "7",
        "es_rejected_execution_exception",
    )
    assert (await http("GET", STATS)).status == 200


async def test_status_fault_maps_to_client_errors(sim: Simulator, es: AsyncElasticsearch) -> None:
    sim.control.add_fault("start", "status", status=503)
    with pytest.raises(ApiError) as err:
        await es.ml.start_trained_model_deployment(model_id=MODEL)
    assert err.value.meta.status == 503
    sim.control.clear_faults()
    await es.ml.start_trained_model_deployment(model_id=MODEL)


async def test_latency_fault(sim: Simulator, http: Http) -> None:
    sim.control.add_fault("info", "latency", latency=0.05)
    loop = asyncio.get_running_loop()
    begin = loop.time()
    assert (await http("GET", "/")).status == 200
    assert loop.time() - begin >= 0.05


async def test_reset_fault_drops_the_connection(sim: Simulator, es: AsyncElasticsearch, http: Http) -> None:
    fault = sim.control.add_fault("any", "reset")
    with pytest.raises(ConnectionError):
        await es.info()
    assert fault.hits >= 1
    sim.control.clear_faults(fault.id)
    assert (await http("GET", "/")).status == 200


async def test_hang_fault_until_cleared(sim: Simulator, http: Http) -> None:
    sim.control.add_fault("update", "hang")
    call = asyncio.create_task(
        http("POST", f"/_ml/trained_models/{MODEL}/deployment/_update", {"number_of_allocations": 2})
    )
    path = f"/_ml/trained_models/{MODEL}/deployment/_update"
    await wait_for_async(lambda: sim.control.requests(path_prefix=path), within=2.0, interval=0.005, what="the _update")
    await asyncio.sleep(0.02)
    assert not call.done()
    assert (await http("DELETE", "/_sim/faults", auth=None)).status == 200
    assert (await call).status == 404


async def test_hanging_request_times_out_in_the_client(sim: Simulator, session: aiohttp.ClientSession) -> None:
    sim.control.add_fault("info", "hang")
    with pytest.raises(asyncio.TimeoutError):
        async with session.get(sim.url + "/", timeout=aiohttp.ClientTimeout(total=0.1)):
            pass


async def test_node_fail_and_restore_over_http(sim: Simulator, http: Http) -> None:
    await http("POST", START, params={"number_of_allocations": "2"})
    r = await http("POST", "/_sim/nodes/ml-0/_fail", {"mode": "process_failure"}, auth=None)
    assert r.body["node"]["status"] == "failing"
    state = (await http("GET", "/_sim/state", auth=None)).body
    assert state["deployments"][MODEL]["stats_state"] == "started"
    r = await http("POST", f"/_sim/nodes/{sim.cluster.nodes[0].id}/_restore", auth=None)
    assert r.body["node"]["status"] == "up"
    assert (await http("POST", "/_sim/nodes/ml-9/_fail", auth=None)).status == 404
    assert (await http("POST", "/_sim/nodes/ml-0/_fail", {"mode": "boom"}, auth=None)).status == 400


async def test_stable_node_ids(make_sim: SimFactory) -> None:
    a = await make_sim()
    b = await make_sim()
    assert [n.id for n in a.cluster.nodes] == [n.id for n in b.cluster.nodes]
    assert all(len(n.id) == 22 for n in a.cluster.nodes)
    assert [n.name for n in a.cluster.nodes] == ["ml-0", "ml-1"]


async def test_set_allocations_out_of_band_uses_update_semantics(sim: Simulator, http: Http) -> None:
    await http("POST", START)
    r = await http("POST", f"/_sim/deployments/{MODEL}/_set_allocations", {"number_of_allocations": 3}, auth=None)
    assert r.body["assignment"]["task_parameters"]["number_of_allocations"] == 3
    r = await http("POST", "/_sim/deployments/nope/_set_allocations", {"number_of_allocations": 3}, auth=None)
    assert (r.status, r.body["error"]["type"]) == (404, "resource_not_found_exception")
    r = await http("POST", f"/_sim/deployments/{MODEL}/_set_allocations", {"number_of_allocations": 0}, auth=None)
    assert r.status == 400
    assert sim.control.requests(path_prefix="/_sim") == []


async def test_load_and_advance_over_http(sim: Simulator, http: Http) -> None:
    await http("POST", START, {"adaptive_allocations": {"enabled": True, "max_number_of_allocations": 4}})
    await http("POST", f"/_sim/deployments/{MODEL}/_load", {"requests_per_second": 30}, auth=None)
    r = await http("POST", "/_sim/_advance", {"seconds": 10}, auth=None)
    assert r.body["now"] == sim.clock.now()
    stats = await http("GET", STATS)
    assert stats.body["trained_model_stats"][0]["deployment_stats"]["number_of_allocations"] == 4


async def test_advance_needs_fake_clock(make_sim: SimFactory) -> None:
    sim = await make_sim(fake_clock=False)
    with pytest.raises(AdminError):
        sim.control.advance(1)


async def test_reset_restores_startup_state(sim: Simulator, http: Http) -> None:
    await http("POST", START)
    sim.control.add_fault("stats", "status")
    sim.control.fail_node("ml-0")
    r = await http("POST", "/_sim/reset", auth=None)
    assert r.status == 200
    state = sim.control.state()
    assert state["deployments"] == {} and state["faults"] == [] and state["request_count"] == 0
    assert [n["status"] for n in state["nodes"]] == ["up", "up"]
    assert MODEL in state["models"]


async def test_unknown_admin_endpoint(http: Http) -> None:
    r = await http("GET", "/_sim/nope", auth=None)
    assert r.status == 404


async def test_admin_models_and_cluster_flags(http: Http) -> None:
    r = await http("POST", "/_sim/models", {"model_id": "extra", "size_bytes": 100}, auth=None)
    assert r.body["model"]["fully_defined"] is True
    r = await http("PUT", "/_sim/cluster", {"can_scale": True}, auth=None)
    assert r.body["cluster"]["can_scale"] is True
    assert (await http("PUT", "/_sim/cluster", {"nope": 1}, auth=None)).status == 400


async def test_state_file_survives_a_restart(make_sim: SimFactory, tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    first = await make_sim(state_file=str(path))
    first.control.add_model("extra", 1000)
    async with aiohttp.ClientSession() as s:
        http = Http(first, s)
        await http("POST", START, params={"number_of_allocations": "2", "deployment_id": "kept"})
        await http("POST", "/_security/api_key", {"name": "k"})
    await first.stop()
    saved = json.loads(path.read_text())
    assert [d["deployment_id"] for d in saved["deployments"]] == ["kept"]
    second = await make_sim(state_file=str(path))
    assert "kept" in second.cluster.deployments
    assert "extra" in second.cluster.models.models
    assert len(second.engine.security.api_keys) == 1
    assert second.cluster.deployments["kept"].allocation_count == 2
