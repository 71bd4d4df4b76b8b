"""The simulator's queued traffic, polled by the real runtime objects, read through the external metrics API.

What an HPA on pending requests sees: at 20x a deployment's capacity the pending count climbs and stays
bounded by the queues, and rejections grow; below capacity nothing waits. The simulated traffic is not
injected: it is ``/_sim/deployments/{id}/_load`` queued by the simulator's model, on its fake clock.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from esml_operator.elasticsearch.connections import ConnectionPool
from esml_operator.manager.operator import Operator, build
from esml_operator.metrics.external import (
    ClientTrust,
    ExternalMetricsApi,
    server_context,
)
from esml_operator.metrics.http import HttpServer
from esml_operator.settings import Settings
from esml_simulator import Simulator
from harness.certs import TinyCA
from tests.unit.runtime_fakes import FakeKube, until
from tests.unit.test_external_metrics import MODEL, PENDING, PREFIX, Tls, client, mdep

REJECTED = "esml_modeldeployment_inference_rejected_total"
QUEUE = 10000  # the default queue_capacity (9.2)
CAPACITY = 20.0  # requests per second: the example's 2 allocations x 1000 ms / 100 ms


@dataclass
class Served:
    sim: Simulator
    op: Operator
    url: str
    tls: Tls


@pytest.fixture
async def served(tmp_path: Path) -> AsyncIterator[Served]:
    sim = Simulator(port=0, fake_clock=True, allocation_delay=0.0, models=[MODEL], model_size=2048, security=False)
    await sim.start()
    op = build(
        Settings(all_namespaces=True, leader_election=False, min_poll_interval=0.01),
        FakeKube(),
        ConnectionPool(),
    )
    op.runtime.observe("ADDED", mdep("team-a", "ner", sim.url, "ner-a"))
    await until(lambda: "ner-a" in sim.control.state()["deployments"], within=10, what="the deployment")
    ca = TinyCA(tmp_path / "front-proxy", "front-proxy-ca")
    tls = Tls(ca, TinyCA(tmp_path / "serving", "serving-ca").server("em", ["127.0.0.1"]), ca.client("p", "proxy"))
    api = ExternalMetricsApi(op.metrics.loads, leading=lambda: True, allowed_names=("proxy",))
    trust = ClientTrust(ca.cert.read_text(), ("proxy",))
    context = server_context(str(tls.server.cert), str(tls.server.key), trust)
    server = HttpServer(api.app(), "127.0.0.1", 0, what="external metrics", ssl_context=context)
    await server.start()
    yield Served(sim, op, f"https://127.0.0.1:{server.bound_port}", tls)
    await server.stop()
    await op.close()
    await sim.stop()


async def poll(served: Served) -> None:
    """A new round of polls, as the resync loop starts one."""
    op = served.op
    polls = op.snapshots.fetches
    op.reconciler.observer.new_round()
    for uid in op.runtime.registry.uids():
        op.runtime.queue.add(uid)
    await until(lambda: op.snapshots.fetches > polls and not op.runtime.queue.running, within=10, what="a new poll")


async def external(served: Served, metric: str) -> float:
    async with client(served.url, served.tls, served.tls.proxy) as http:
        answer = (await http.get(f"{PREFIX}/namespaces/team-a/{metric}", params={"labelSelector": "name=ner"})).json()
    [item] = answer["items"]
    return float(item["value"])


async def test_twenty_times_capacity_queues_up_to_the_bound_and_rejects(served: Served) -> None:
    allocations = served.sim.control.state()["deployments"]["ner-a"]["allocation_status"]["allocation_count"]
    assert allocations * 1000 / 100 == CAPACITY
    served.sim.control.set_load("ner-a", requests_per_second=20 * CAPACITY, inference_time_ms=100)
    served.sim.control.advance(10)
    await poll(served)
    pending = await external(served, PENDING)
    assert 380 * 10 <= pending <= 2 * QUEUE + allocations  # 380 more arrive than are served each second
    assert await external(served, REJECTED) == 0
    served.sim.control.advance(120)  # every queue is full: the excess is refused
    await poll(served)
    assert await external(served, PENDING) <= 2 * QUEUE + allocations
    first = await external(served, REJECTED)
    served.sim.control.advance(10)
    await poll(served)
    assert first > 0 and await external(served, REJECTED) == first + 380 * 10


async def test_below_capacity_nothing_is_pending(served: Served) -> None:
    served.sim.control.set_load("ner-a", requests_per_second=0.5 * CAPACITY, inference_time_ms=100)
    served.sim.control.advance(60)
    await poll(served)
    assert await external(served, PENDING) <= 1  # half the allocations busy at a time, none waiting
    assert await external(served, REJECTED) == 0
