"""Real ``_infer`` calls queue on the deployment's nodes: pending requests, throughput, rejections (fake clock)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from elasticsearch import ApiError, AsyncElasticsearch

from esml_simulator import Simulator

from .conftest import MODEL


async def node_stats(es: AsyncElasticsearch) -> dict[str, Any]:
    stats = await es.ml.get_trained_models_stats(model_id=MODEL)
    nodes = stats["trained_model_stats"][0]["deployment_stats"]["nodes"]
    assert len(nodes) == 1
    return dict(nodes[0])


async def infer(es: AsyncElasticsearch, text: str) -> None:
    await es.ml.infer_trained_model(model_id=MODEL, docs=[{"text_field": text}])


async def test_calls_wait_for_the_allocation_and_show_as_pending_then_as_throughput(
    sim: Simulator, es: AsyncElasticsearch
) -> None:
    await es.ml.start_trained_model_deployment(model_id=MODEL, number_of_allocations=1, cache_size="0")
    for i in range(5):  # at one instant; each takes 100 ms on the one allocation
        await infer(es, f"text {i}")
    node = await node_stats(es)
    assert (node["inference_count"], node["number_of_pending_requests"], node["throughput_last_minute"]) == (5, 5, 0)
    sim.control.advance(0.25)  # two finished
    node = await node_stats(es)
    assert (node["number_of_pending_requests"], node["throughput_last_minute"]) == (3, 2)
    sim.control.advance(61)  # all finished more than a minute ago
    node = await node_stats(es)
    assert (node["number_of_pending_requests"], node["throughput_last_minute"]) == (0, 0)
    assert node["inference_count"] == 5


async def test_two_allocations_serve_two_calls_at_once(sim: Simulator, es: AsyncElasticsearch) -> None:
    await es.ml.start_trained_model_deployment(model_id=MODEL, number_of_allocations=2, threads_per_allocation=1)
    for i in range(4):
        await infer(es, f"text {i}")
    sim.control.advance(0.15)  # two ran in parallel (one per allocation) and finished, two are being served
    stats = await es.ml.get_trained_models_stats(model_id=MODEL)
    nodes = stats["trained_model_stats"][0]["deployment_stats"]["nodes"]
    assert sum(n["number_of_pending_requests"] for n in nodes) == 2
    assert sum(n["throughput_last_minute"] for n in nodes) == 2
    assert sum(n["inference_count"] for n in nodes) == 4


async def test_a_full_queue_refuses_the_call_with_429(sim: Simulator, es: AsyncElasticsearch) -> None:
    await es.ml.start_trained_model_deployment(model_id=MODEL, number_of_allocations=1, queue_capacity=2)
    for i in range(3):  # one served, two waiting
        await infer(es, f"text {i}")
    with pytest.raises(ApiError) as refused:
        await infer(es, "one too many")
    assert refused.value.meta.status == 429
    assert refused.value.body["error"]["type"] == "es_rejected_execution_exception"
    node = await node_stats(es)
    assert (node["inference_count"], node["rejected_execution_count"]) == (3, 1)
    sim.control.advance(0.1)  # the first finished: room again
    await infer(es, "fits now")


async def test_queued_calls_survive_a_restart_on_the_new_clock(tmp_path: Path) -> None:
    settings: dict[str, Any] = {
        "port": 0,
        "fake_clock": True,
        "allocation_delay": 0.0,
        "models": [MODEL],
        "model_size": 1630,
        "state_file": str(tmp_path / "state.json"),
    }
    first = Simulator(**settings)
    await first.start()
    try:
        first.control.advance(100)  # the saved state's clock is 100 s ahead of the next run's
        async with AsyncElasticsearch(first.url, basic_auth=("elastic", "changeme")) as es:
            await es.ml.start_trained_model_deployment(model_id=MODEL, number_of_allocations=1)
            for i in range(3):
                await infer(es, f"text {i}")
    finally:
        await first.stop()
    second = Simulator(**settings)
    await second.start()
    try:
        async with AsyncElasticsearch(second.url, basic_auth=("elastic", "changeme")) as es:
            assert (await node_stats(es))["number_of_pending_requests"] == 3
            second.control.advance(0.35)  # the three calls (100 ms each) are served on the new clock
            node = await node_stats(es)
            assert (node["number_of_pending_requests"], node["throughput_last_minute"]) == (0, 3)
    finally:
        await second.stop()
