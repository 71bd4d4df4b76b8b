"""``GET _ml/info`` and ``GET _ml/memory/_stats``: Elasticsearch's shapes, with numbers that agree with the planner."""

from __future__ import annotations

import base64
import re

from esml_simulator import Simulator
from esml_simulator.ml.state import NATIVE_CODE_OVERHEAD
from esml_simulator.units import human_bytes

from .conftest import MODEL, SMALL, Http, SimFactory

MIB = 1024 * 1024
GIB = 1024 * MIB
START = f"/_ml/trained_models/{MODEL}/deployment/_start"
#: the default estimate of a pytorch model: 240 MiB + 2 x its size
MODEL_MEMORY = 240 * MIB + 2 * SMALL


async def _http(make_sim: SimFactory, session: object, **settings: object) -> tuple[Simulator, Http]:
    sim = await make_sim(**settings)
    return sim, Http(sim, session)  # type: ignore[arg-type]


async def test_ml_info_limits_of_the_default_cluster(http: Http) -> None:
    r = await http("GET", "/_ml/info")
    assert r.status == 200
    assert r.body["limits"] == {
        "max_single_ml_node_processors": 4,
        "total_ml_processors": 8,
        "effective_max_model_memory_limit": f"{(8 * GIB - NATIVE_CODE_OVERHEAD) // MIB}mb",
        "total_ml_memory": "16384mb",
    }
    assert r.body["upgrade_mode"] is False
    assert r.body["native_code"]["version"] == "9.2.0"
    assert re.fullmatch(r"[0-9a-f]{14}", r.body["native_code"]["build_hash"])
    ad = r.body["defaults"]["anomaly_detectors"]
    assert (ad["model_memory_limit"], ad["categorization_examples_limit"]) == ("1gb", 4)
    assert r.body["defaults"]["datafeeds"] == {"scroll_size": 1000}


async def test_ml_info_follows_nodes_that_join_and_leave(make_sim: SimFactory, session: object) -> None:
    sim, http = await _http(make_sim, session, nodes=1, processors=2, node_memory=2 * GIB)
    sim.control.add_node(processors=8, memory=4 * GIB)
    limits = (await http("GET", "/_ml/info")).body["limits"]
    assert (limits["max_single_ml_node_processors"], limits["total_ml_processors"]) == (8, 10)
    assert limits["total_ml_memory"] == "6144mb"
    assert limits["effective_max_model_memory_limit"] == f"{4096 - 30}mb"
    sim.control.fail_node("ml-1")
    limits = (await http("GET", "/_ml/info")).body["limits"]
    assert (limits["max_single_ml_node_processors"], limits["total_ml_processors"]) == (2, 2)
    assert limits["total_ml_memory"] == "2048mb"


async def test_processor_limits_arrive_in_8_12(make_sim: SimFactory, session: object) -> None:
    _, old = await _http(make_sim, session, es_version="8.11.4")
    _, new = await _http(make_sim, session, es_version="8.12.0")
    assert "total_ml_processors" not in (await old("GET", "/_ml/info")).body["limits"]
    assert (await new("GET", "/_ml/info")).body["limits"]["total_ml_processors"] == 8


async def test_memory_stats_arrive_in_8_2(make_sim: SimFactory, session: object) -> None:
    _, old = await _http(make_sim, session, es_version="8.1.3")
    _, new = await _http(make_sim, session, es_version="8.2.0")
    assert (await old("GET", "/_ml/memory/_stats")).status == 400  # no handler: Elasticsearch's 400
    assert (await new("GET", "/_ml/memory/_stats")).status == 200
    assert (await old("GET", "/_ml/info")).status == 200


async def test_memory_stats_shape_and_idle_nodes(sim: Simulator, http: Http) -> None:
    r = await http("GET", "/_ml/memory/_stats")
    assert r.status == 200
    assert r.body["_nodes"] == {"total": 2, "successful": 2, "failed": 0}
    assert r.body["cluster_name"] == "esml-simulator"
    node = sim.cluster.nodes[0]
    entry = r.body["nodes"][node.id]
    assert list(entry) == ["name", "ephemeral_id", "transport_address", "attributes", "roles", "mem", "jvm"]
    assert entry["name"] == "ml-0" and entry["roles"] == ["ml", "remote_cluster_client"]
    assert all(key.startswith("ml.") for key in entry["attributes"])
    assert entry["mem"] == {
        "total_in_bytes": 8 * GIB,
        "adjusted_total_in_bytes": 8 * GIB,
        "ml": {
            "max_in_bytes": 8 * GIB,
            "native_code_overhead_in_bytes": 0,
            "anomaly_detectors_in_bytes": 0,
            "data_frame_analytics_in_bytes": 0,
            "native_inference_in_bytes": 0,
        },
    }
    assert entry["jvm"] == {
        "heap_max_in_bytes": 2 * GIB,
        "java_inference_max_in_bytes": int(2 * GIB * 0.4),
        "java_inference_in_bytes": 0,
    }


async def test_memory_stats_human_puts_the_readable_field_first(http: Http) -> None:
    r = await http("GET", "/_ml/memory/_stats", params={"human": "true"})
    mem = next(iter(r.body["nodes"].values()))["mem"]
    assert list(mem)[:2] == ["total", "total_in_bytes"]
    assert (mem["total"], mem["ml"]["native_inference"]) == ("8gb", "0b")


async def test_memory_stats_count_what_deployments_use(sim: Simulator, http: Http) -> None:
    assert (await http("POST", START, params={"number_of_allocations": "3"})).status == 200
    nodes = (await http("GET", "/_ml/memory/_stats")).body["nodes"]
    dep = sim.cluster.deployments[MODEL]
    assert dep.memory == MODEL_MEMORY
    for node in sim.cluster.nodes:
        ml = nodes[node.id]["mem"]["ml"]
        hosts = node.id in dep.routes
        assert ml["native_code_overhead_in_bytes"] == (NATIVE_CODE_OVERHEAD if hosts else 0)
        # memory is per deployment on a node, whatever the allocation count there
        assert ml["native_inference_in_bytes"] == (MODEL_MEMORY if hosts else 0)


async def test_free_memory_agrees_with_the_planners_refusal(make_sim: SimFactory, session: object) -> None:
    sim, http = await _http(make_sim, session, nodes=1, node_memory=500 * MIB, models=[MODEL, "second"])
    assert (await http("POST", START)).status == 200
    stats = (await http("GET", "/_ml/memory/_stats")).body["nodes"][sim.cluster.nodes[0].id]["mem"]["ml"]
    free = stats["max_in_bytes"] - stats["native_code_overhead_in_bytes"] - stats["native_inference_in_bytes"]
    refused = await http("POST", "/_ml/trained_models/second/deployment/_start")
    assert refused.status == 429
    explanation = refused.body["error"]["caused_by"]["reason"]
    assert f"free memory [{human_bytes(free)} ({free})]" in explanation
    assert f"Available memory for ML [500mb ({500 * MIB})]" in explanation


async def test_memory_stats_for_named_nodes(sim: Simulator, http: Http) -> None:
    first, second = sim.cluster.nodes
    by_id = await http("GET", f"/_ml/memory/{first.id}/_stats")
    assert list(by_id.body["nodes"]) == [first.id]
    by_name = await http("GET", "/_ml/memory/ml-1/_stats")
    assert list(by_name.body["nodes"]) == [second.id]
    both = await http("GET", "/_ml/memory/ml-*/_stats")
    assert sorted(both.body["nodes"]) == sorted([first.id, second.id])
    listed = await http("GET", f"/_ml/memory/ml-0,{second.id}/_stats")
    assert sorted(listed.body["nodes"]) == sorted([first.id, second.id])
    unknown = await http("GET", "/_ml/memory/nope/_stats")
    assert unknown.status == 200
    assert (unknown.body["_nodes"]["total"], unknown.body["nodes"]) == (0, {})


async def test_monitor_ml_reads_both_and_others_get_403(make_sim: SimFactory, session: object) -> None:
    users = [("reader", "pw", "monitor_ml"), ("infer", "pw", "inference_user")]
    _, http = await _http(make_sim, session, users=users)

    def auth(user: str) -> str:
        return "Basic " + base64.b64encode(f"{user}:pw".encode()).decode()

    for path in ("/_ml/info", "/_ml/memory/_stats"):
        assert (await http("GET", path, auth=auth("reader"))).status == 200
        denied = await http("GET", path, auth=auth("infer"))
        assert (denied.status, denied.error_type) == (403, "security_exception")


async def test_faults_can_target_both_endpoints(http: Http) -> None:
    for endpoint, path in (("ml_info", "/_ml/info"), ("memory_stats", "/_ml/memory/ml-0/_stats")):
        fault = {"endpoint": endpoint, "kind": "status", "status": 403, "count": 1}
        assert (await http("POST", "/_sim/faults", fault, auth=None)).status == 200
        assert (await http("GET", path)).status == 403
        assert (await http("GET", path)).status == 200
