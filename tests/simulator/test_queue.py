"""The simulated traffic queues per node: pending requests, rejections beyond ``queue_capacity``, draining.

Numbers are exact: under the fake clock the queue model depends only on simulated time. The deployment
used here has 3 allocations of 100 ms (capacity 30 requests/s): 2 on ml-0, 1 on ml-1.
"""

from __future__ import annotations

import math
from typing import Any

import pytest
from elasticsearch import ApiError, AsyncElasticsearch
from hypothesis import given
from hypothesis import strategies as st

from esml_simulator import Simulator
from esml_simulator.ml.queueing import NodeRates, flow

from .conftest import MODEL, SimFactory
from .test_inference_client import put_owned
from .test_inference_load import by_node, deployment_stats

QUEUE = 100
CAPACITY = 30.0  # requests per second: 3 allocations x 1000 ms / 100 ms


async def start(es: AsyncElasticsearch) -> None:
    await es.ml.start_trained_model_deployment(model_id=MODEL, number_of_allocations=3, queue_capacity=QUEUE)


async def nodes(es: AsyncElasticsearch) -> dict[str, dict[str, Any]]:
    return by_node(await deployment_stats(es))


async def test_twenty_times_capacity_fills_each_queue_then_rejects(sim: Simulator, es: AsyncElasticsearch) -> None:
    await start(es)
    assert {k: v["number_of_allocations"] for k, v in (await nodes(es)).items()} == {"ml-0": 2, "ml-1": 1}
    sim.control.set_load(MODEL, requests_per_second=20 * CAPACITY, inference_time_ms=100)  # 400/s and 200/s
    sim.control.advance(0.1)  # filling: ml-0 gains 400 - 20 = 380/s, ml-1 200 - 10 = 190/s
    filling = await nodes(es)
    assert [filling[n]["number_of_pending_requests"] for n in ("ml-0", "ml-1")] == [38 + 2, 19 + 1]
    assert "rejected_execution_count" not in filling["ml-0"]
    sim.control.advance(9.9)  # both queues are full long before 10 s
    full = await deployment_stats(es)
    node = by_node(full)
    assert [node[n]["number_of_pending_requests"] for n in ("ml-0", "ml-1")] == [QUEUE + 2, QUEUE + 1]
    assert [node[n]["rejected_execution_count"] for n in ("ml-0", "ml-1")] == [380 * 10 - QUEUE, 190 * 10 - QUEUE]
    assert full["rejected_execution_count"] == 3700 + 1800
    assert full["inference_count"] == 300  # served at capacity, not at the arrival rate
    assert [node[n]["throughput_last_minute"] for n in ("ml-0", "ml-1")] == [1200, 600]
    sim.control.advance(10)
    later = await deployment_stats(es)
    assert later["rejected_execution_count"] == full["rejected_execution_count"] + (380 + 190) * 10
    assert max(n["number_of_pending_requests"] for n in later["nodes"]) <= QUEUE + 2  # bounded by the queue


async def test_below_capacity_nothing_waits(sim: Simulator, es: AsyncElasticsearch) -> None:
    await start(es)
    sim.control.set_load(MODEL, requests_per_second=0.5 * CAPACITY, inference_time_ms=100)
    sim.control.advance(60)
    stats = await deployment_stats(es)
    node = by_node(stats)
    # half of each node's allocations are busy, nothing queues
    assert [node[n]["number_of_pending_requests"] for n in ("ml-0", "ml-1")] == [1, 0]
    assert "rejected_execution_count" not in stats
    assert stats["inference_count"] == 15 * 60
    assert [node[n]["throughput_last_minute"] for n in ("ml-0", "ml-1")] == [600, 300]


async def test_a_queue_drains_at_capacity_when_the_traffic_stops(sim: Simulator, es: AsyncElasticsearch) -> None:
    await start(es)
    sim.control.set_load(MODEL, requests_per_second=20 * CAPACITY, inference_time_ms=100)
    sim.control.advance(10)
    served = (await deployment_stats(es))["inference_count"]
    sim.control.set_load(MODEL, requests_per_second=0, inference_time_ms=100)
    sim.control.advance(2)  # ml-0 serves 20/s, ml-1 10/s
    node = await nodes(es)
    assert [node[n]["number_of_pending_requests"] for n in ("ml-0", "ml-1")] == [60 + 2, 80 + 1]
    sim.control.advance(10)  # ml-0 empty after 5 s, ml-1 after 10 s
    stats = await deployment_stats(es)
    assert [n["number_of_pending_requests"] for n in stats["nodes"]] == [0, 0]
    assert stats["inference_count"] == served + 2 * QUEUE  # every queued request was served
    assert stats["peak_throughput_per_minute"] == 1200 + 600


async def test_a_node_that_leaves_drops_its_queue(sim: Simulator, es: AsyncElasticsearch) -> None:
    await start(es)
    sim.control.set_load(MODEL, requests_per_second=20 * CAPACITY, inference_time_ms=100)
    sim.control.advance(10)
    sim.control.fail_node("ml-1")
    sim.control.advance(1)
    kept = sim.cluster.find_node("ml-0")
    assert kept is not None and list(sim.cluster.deployments[MODEL].load.queues) == [kept.id]


async def test_an_inference_call_on_a_full_queue_is_refused_with_429(make_sim: SimFactory) -> None:
    sim = await make_sim(security=False, es_version="9.2.0")
    async with AsyncElasticsearch(sim.url, max_retries=0) as es:
        await put_owned(es, "my-elser", num_threads=1, num_allocations=1)
        sim.control.set_load("my-elser", requests_per_second=50, inference_time_ms=100)  # 5x one allocation
        assert (await es.inference.inference(inference_id="my-elser", input=["ok"]))["sparse_embedding"]
        sim.control.advance(10000 / 40 + 1)  # the default queue of 10000 fills at 40/s
        before = (await es.ml.get_trained_models_stats(model_id="my-elser"))["trained_model_stats"][0]
        with pytest.raises(ApiError) as refused:
            await es.inference.inference(inference_id="my-elser", input=["too many"])
        after = (await es.ml.get_trained_models_stats(model_id="my-elser"))["trained_model_stats"][0]
    error = refused.value.body["error"]
    assert (refused.value.meta.status, error["type"]) == (429, "es_rejected_execution_exception")
    assert error["reason"] == "inference process queue is full. Unable to execute command"
    rejected = after["deployment_stats"]["rejected_execution_count"]
    assert rejected == before["deployment_stats"]["rejected_execution_count"] + 1


@given(
    queued=st.floats(0, 100),
    arrivals=st.floats(0, 1000),
    capacity=st.floats(0.1, 1000),
    seconds=st.floats(0, 100),
)
def test_flow_loses_no_request_and_respects_the_bound(
    queued: float, arrivals: float, capacity: float, seconds: float
) -> None:
    result = flow(queued, NodeRates(1, arrivals, capacity), 100, seconds)
    assert 0 <= result.queued <= 100
    assert result.served <= capacity * seconds * (1 + 1e-9) + 1e-9
    assert math.isclose(queued + arrivals * seconds, result.queued + result.served + result.rejected, abs_tol=1e-6)


def test_requests_that_take_no_time_never_wait() -> None:
    result = flow(5, NodeRates(1, 100, math.inf), 100, 2)
    assert (result.queued, result.served, result.rejected) == (0, 205, 0)
