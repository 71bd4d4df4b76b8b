"""Injected inference load, read back through the official client as Elasticsearch renders it in ``_stats``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aiohttp
import pytest
from elasticsearch import AsyncElasticsearch

from esml_simulator import AdminError, Simulator

from .conftest import MODEL, Http, SimFactory

LOAD = {
    "number_of_pending_requests": 7,
    "inference_count": 1001,
    "average_inference_time_ms": 42.5,
    "throughput_last_minute": 120,
    "peak_throughput_per_minute": 300,
    "rejected_execution_count": 5,
    "timeout_count": 2,
    "error_count": 3,
}


async def deployment_stats(es: AsyncElasticsearch, **params: Any) -> dict[str, Any]:
    stats = await es.ml.get_trained_models_stats(model_id=MODEL, **params)
    return dict(stats["trained_model_stats"][0]["deployment_stats"])


def by_node(stats: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {next(iter(n["node"].values()))["name"]: n for n in stats["nodes"]}


async def test_injected_load_appears_in_stats_per_node_and_summed(sim: Simulator, es: AsyncElasticsearch) -> None:
    await es.ml.start_trained_model_deployment(model_id=MODEL, number_of_allocations=5)  # ml-0: 3, ml-1: 2
    sim.control.set_inference_stats(MODEL, **LOAD)
    stats = await deployment_stats(es)
    assert {k: stats[k] for k in ("error_count", "rejected_execution_count", "timeout_count", "inference_count")} == {
        "error_count": 3,
        "rejected_execution_count": 5,
        "timeout_count": 2,
        "inference_count": 1001,
    }
    assert stats["peak_throughput_per_minute"] == 300
    nodes = by_node(stats)
    assert (nodes["ml-0"]["number_of_allocations"], nodes["ml-1"]["number_of_allocations"]) == (3, 2)
    first, second = nodes["ml-0"], nodes["ml-1"]
    assert (first["inference_count"], second["inference_count"]) == (601, 400)  # 3:2, parts add up exactly
    assert (first["number_of_pending_requests"], second["number_of_pending_requests"]) == (4, 3)
    assert (first["throughput_last_minute"], second["throughput_last_minute"]) == (72, 48)
    assert (first["peak_throughput_per_minute"], second["peak_throughput_per_minute"]) == (180, 120)
    assert (first["error_count"], second["error_count"]) == (2, 1)
    assert (first["timeout_count"], second["timeout_count"]) == (1, 1)
    assert first["average_inference_time_ms"] == second["average_inference_time_ms"] == 42.5
    assert first["last_access"] == int(sim.clock.now() * 1000)
    assert list(first)[:8] == [
        "node",
        "routing_state",
        "inference_count",
        "average_inference_time_ms",
        "average_inference_time_ms_excluding_cache_hits",
        "inference_cache_hit_count",
        "last_access",
        "number_of_pending_requests",
    ]


async def test_per_node_values_override_and_zeros_are_omitted(
    sim: Simulator, es: AsyncElasticsearch, http: Http
) -> None:
    await es.ml.start_trained_model_deployment(model_id=MODEL, number_of_allocations=5)
    node_id = sim.cluster.find_node("ml-1").id  # type: ignore[union-attr]
    r = await http(
        "PUT",
        f"/_sim/deployments/{MODEL}/_inference_stats",
        {"number_of_pending_requests": 10, "nodes": {node_id: {"number_of_pending_requests": 99, "error_count": 4}}},
        auth=None,
    )
    assert r.status == 200
    stats = await deployment_stats(es)
    nodes = by_node(stats)
    assert (nodes["ml-0"]["number_of_pending_requests"], nodes["ml-1"]["number_of_pending_requests"]) == (6, 99)
    assert "error_count" not in nodes["ml-0"]
    assert (nodes["ml-1"]["error_count"], stats["error_count"]) == (4, 4)
    assert "inference_count" not in stats and "timeout_count" not in stats  # only when > 0
    assert "average_inference_time_ms" not in nodes["ml-0"]  # only with inferences
    assert (await http("DELETE", f"/_sim/deployments/{MODEL}/_inference_stats", auth=None)).status == 200
    cleared = by_node(await deployment_stats(es))
    assert cleared["ml-1"]["number_of_pending_requests"] == 0


async def test_load_renders_with_human_strings_and_old_thread_names(
    make_sim: SimFactory, session: aiohttp.ClientSession
) -> None:
    sim = await make_sim(es_version="8.2.3")  # raw HTTP: the 9.x client asks for compatible-with=9
    http = Http(sim, session)
    await http("POST", f"/_ml/trained_models/{MODEL}/deployment/_start")
    sim.control.set_inference_stats(MODEL, inference_count=10, average_inference_time_ms_last_minute=12.0)
    raw = await http("GET", f"/_ml/trained_models/{MODEL}/_stats", params={"human": "true"})
    node = raw.body["trained_model_stats"][0]["deployment_stats"]["nodes"][0]
    assert (node["inference_threads"], node["model_threads"]) == (1, 1)
    assert "threads_per_allocation" not in node
    assert node["average_inference_time_ms_last_minute"] == 12.0
    assert node["last_access_string"].endswith("Z")


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"pending": 1}, "unknown inference stat [pending]"),
        ({"error_count": -1}, "[error_count] must be a non-negative number"),
        ({"inference_count": 1.5}, "[inference_count] must be an integer"),
    ],
)
async def test_invalid_values_are_refused(sim: Simulator, es: AsyncElasticsearch, values: Any, message: str) -> None:
    await es.ml.start_trained_model_deployment(model_id=MODEL)
    with pytest.raises(AdminError) as err:
        sim.control.set_inference_stats(MODEL, **values)
    assert (err.value.status, str(err.value).startswith(message)) == (400, True)


async def test_unknown_deployment_or_node_is_404(sim: Simulator, http: Http) -> None:
    r = await http("PUT", "/_sim/deployments/nope/_inference_stats", {"inference_count": 1}, auth=None)
    assert r.status == 404
    await http("POST", f"/_ml/trained_models/{MODEL}/deployment/_start")
    r = await http("PUT", f"/_sim/deployments/{MODEL}/_inference_stats", {"nodes": {"ml-9": {}}}, auth=None)
    assert r.status == 404


async def test_injected_load_survives_a_restart(make_sim: SimFactory, tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    first = await make_sim(state_file=str(path))
    async with aiohttp.ClientSession() as s:
        await Http(first, s)("POST", f"/_ml/trained_models/{MODEL}/deployment/_start")
    first.control.set_inference_stats(MODEL, number_of_pending_requests=3)
    await first.stop()
    second = await make_sim(state_file=str(path))
    async with AsyncElasticsearch(second.url, basic_auth=("elastic", "changeme")) as es:
        assert (await deployment_stats(es))["nodes"][0]["number_of_pending_requests"] == 3
