"""Inference load from the simulator's _stats into /metrics and the external.metrics.k8s.io API (over TLS).

The real runtime objects poll an in-process simulator (in-memory Kubernetes); the API is
served as the aggregation layer calls it: TLS, client certificate of the front-proxy CA.
"""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from esml_operator.controller.fence import Fence
from esml_operator.elasticsearch.connections import ConnectionPool
from esml_operator.manager.operator import Operator, build
from esml_operator.metrics.external import (
    ClientTrust,
    ExternalMetricsApi,
    quantity,
    server_context,
)
from esml_operator.metrics.http import HttpServer
from esml_operator.metrics.load import LOAD_SERIES
from esml_operator.settings import Settings
from esml_simulator import Simulator
from harness.certs import Pair, TinyCA
from tests.unit.runtime_fakes import FakeKube, until
from tests.unit.test_metrics import scrape, value

MODEL = "elastic__distilbert-base-uncased-finetuned-conll03-english"
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
PREFIX = "/apis/external.metrics.k8s.io/v1beta1"
PENDING = "esml_modeldeployment_inference_pending_requests"


def mdep(namespace: str, name: str, url: str, deployment: str) -> dict[str, Any]:
    return {
        "apiVersion": "esml.io/v1alpha1",
        "kind": "ModelDeployment",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "uid": f"uid-{namespace}-{name}",
            "generation": 1,
            "resourceVersion": "1",
            "creationTimestamp": "2026-12-01T10:00:00Z",
        },
        "spec": {"modelId": MODEL, "deploymentId": deployment, "numberOfAllocations": 2, "elasticsearch": {"url": url}},
    }


@dataclass
class World:
    sim: Simulator
    op: Operator
    leading: list[bool]


@pytest.fixture
async def world() -> AsyncIterator[World]:
    sim = Simulator(port=0, fake_clock=True, allocation_delay=0.0, models=[MODEL], model_size=2048, security=False)
    await sim.start()
    leading = [True]
    settings = Settings(all_namespaces=True, leader_election=False, min_poll_interval=0.01)
    op = build(settings, FakeKube(), ConnectionPool(), fence=Fence(lambda: None if leading[0] else 0.0))
    for namespace, name, deployment in (
        ("team-a", "ner", "ner-a"),
        ("team-a", "other", "other-a"),
        ("team-b", "ner", "ner-b"),
    ):
        op.runtime.observe("ADDED", mdep(namespace, name, sim.url, deployment))
    await until(lambda: len(sim.control.state()["deployments"]) == 3, within=10, what="three deployments")
    sim.control.set_inference_stats("ner-a", **LOAD)
    sim.control.set_inference_stats("ner-b", number_of_pending_requests=70)
    polls = op.snapshots.fetches
    op.reconciler.observer.new_round()  # what the resync loop does: the next passes poll again
    for uid in op.runtime.registry.uids():
        op.runtime.queue.add(uid)
    await until(lambda: op.snapshots.fetches > polls and not op.runtime.queue.running, within=10, what="a new poll")
    yield World(sim, op, leading)
    await op.close()
    await sim.stop()


async def test_the_load_appears_in_metrics_in_base_units(world: World) -> None:
    samples = scrape(world.op)
    labels = {"namespace": "team-a", "name": "ner", "deployment_id": "ner-a"}
    assert value(samples, PENDING, **labels) == 7
    assert value(samples, "esml_modeldeployment_inferences_total", **labels) == 1001
    assert value(samples, "esml_modeldeployment_average_inference_time_seconds", **labels) == pytest.approx(0.0425)
    assert value(samples, "esml_modeldeployment_inference_throughput_last_minute", **labels) == 120
    assert value(samples, "esml_modeldeployment_inference_peak_throughput_per_minute", **labels) == 300
    assert value(samples, "esml_modeldeployment_inference_rejected_total", **labels) == 5
    assert value(samples, "esml_modeldeployment_inference_timeouts_total", **labels) == 2
    assert value(samples, "esml_modeldeployment_inference_errors_total", **labels) == 3
    assert value(samples, PENDING, namespace="team-b", name="ner", deployment_id="ner-b") == 70
    assert value(samples, PENDING, namespace="team-a", name="other", deployment_id="other-a") == 0


@dataclass
class Tls:
    ca: TinyCA
    server: Pair
    proxy: Pair  # the aggregator's front-proxy client certificate


@pytest.fixture
def tls(tmp_path: Path) -> Tls:
    ca = TinyCA(tmp_path / "front-proxy", "front-proxy-ca")
    serving = TinyCA(tmp_path / "serving", "serving-ca")
    return Tls(
        ca, serving.server("external-metrics", ["localhost", "127.0.0.1"]), ca.client("proxy", "front-proxy-client")
    )


@pytest.fixture
async def api(world: World, tls: Tls) -> AsyncIterator[str]:
    trust = ClientTrust(tls.ca.cert.read_text(), ("front-proxy-client",))
    handler = ExternalMetricsApi(
        world.op.metrics.loads, leading=lambda: world.leading[0], allowed_names=trust.allowed_names
    )
    context = server_context(str(tls.server.cert), str(tls.server.key), trust)
    server = HttpServer(handler.app(), "127.0.0.1", 0, what="external metrics", ssl_context=context)
    await server.start()
    yield f"https://127.0.0.1:{server.bound_port}"
    await server.stop()


def client(base: str, tls: Tls, cert: Pair | None) -> httpx.AsyncClient:
    context = ssl.create_default_context(cafile=str(tls.server.cert.parent / "ca.crt"))
    if cert is not None:
        context.load_cert_chain(str(cert.cert), str(cert.key))
    return httpx.AsyncClient(base_url=base, verify=context, headers={"X-Remote-User": "system:serviceaccount:hpa"})


async def test_discovery_lists_the_metrics(api: str, tls: Tls) -> None:
    async with client(api, tls, tls.proxy) as http:
        answer = (await http.get(PREFIX)).json()
    assert answer["kind"] == "APIResourceList" and answer["groupVersion"] == "external.metrics.k8s.io/v1beta1"
    names = {r["name"] for r in answer["resources"]}
    assert PENDING in names and "esml_modeldeployment_average_inference_time_seconds" in names
    assert all(r["namespaced"] and r["verbs"] == ["get"] for r in answer["resources"])


async def test_values_are_selected_by_namespace_and_labels(api: str, tls: Tls) -> None:
    async with client(api, tls, tls.proxy) as http:
        one = (await http.get(f"{PREFIX}/namespaces/team-a/{PENDING}", params={"labelSelector": "name=ner"})).json()
        everything = (await http.get(f"{PREFIX}/namespaces/team-a/{PENDING}")).json()
        other_ns = (await http.get(f"{PREFIX}/namespaces/team-b/{PENDING}")).json()
        none = (await http.get(f"{PREFIX}/namespaces/team-a/{PENDING}", params={"labelSelector": "name=x"})).json()
        average = (
            await http.get(
                f"{PREFIX}/namespaces/team-a/esml_modeldeployment_average_inference_time_seconds",
                params={"labelSelector": "name in (ner),deployment_id=ner-a"},
            )
        ).json()
    assert one["kind"] == "ExternalMetricValueList"
    assert [(i["metricLabels"]["name"], i["value"]) for i in one["items"]] == [("ner", "7")]
    item = one["items"][0]
    assert item["metricName"] == PENDING and item["timestamp"].endswith("Z")
    assert item["metricLabels"] == {"namespace": "team-a", "name": "ner", "deployment_id": "ner-a", "model_id": MODEL}
    assert sorted((i["metricLabels"]["name"], i["value"]) for i in everything["items"]) == [
        ("ner", "7"),
        ("other", "0"),
    ]
    assert [(i["metricLabels"]["deployment_id"], i["value"]) for i in other_ns["items"]] == [("ner-b", "70")]
    assert none["items"] == []
    assert [i["value"] for i in average["items"]] == ["42500u"]  # 0.0425 s, exactly


async def test_errors(api: str, tls: Tls, world: World) -> None:
    async with client(api, tls, tls.proxy) as http:
        unknown = await http.get(f"{PREFIX}/namespaces/team-a/cpu")
        bad = await http.get(f"{PREFIX}/namespaces/team-a/{PENDING}", params={"labelSelector": "name>1"})
        world.leading[0] = False
        follower = await http.get(f"{PREFIX}/namespaces/team-a/{PENDING}")
    assert (unknown.status_code, unknown.json()["reason"]) == (404, "NotFound")
    assert (bad.status_code, bad.json()["kind"]) == (400, "Status")
    assert follower.status_code == 503 and "not the leader" in follower.json()["message"]


async def test_only_the_front_proxy_certificate_is_accepted(api: str, tls: Tls, tmp_path: Path) -> None:
    with pytest.raises(httpx.HTTPError):  # no client certificate: the TLS handshake fails
        async with client(api, tls, None) as http:
            await http.get(PREFIX)
    stranger = TinyCA(tmp_path / "other", "other-ca").client("stranger", "front-proxy-client")
    with pytest.raises(httpx.HTTPError):  # a certificate of another CA
        async with client(api, tls, stranger) as http:
            await http.get(PREFIX)
    wrong_name = tls.ca.client("kubelet", "system:node:worker")  # the right CA, a name not allowed
    async with client(api, tls, wrong_name) as http:
        refused = await http.get(PREFIX)
    assert refused.status_code == 401


@pytest.mark.parametrize(("number", "text"), [(7, "7"), (0.0425, "42500u"), (1.5, "1500m"), (1 / 3, "333333333n")])
def test_quantities(number: float, text: str) -> None:
    assert quantity(number) == text


async def test_every_load_series_of_metrics_is_served_with_the_same_value(api: str, tls: Tls, world: World) -> None:
    """One table (LOAD_SERIES) defines both: the same names, the same numbers."""
    samples = scrape(world.op)
    labels = {"namespace": "team-a", "name": "ner", "deployment_id": "ner-a"}
    async with client(api, tls, tls.proxy) as http:
        listed = {r["name"] for r in (await http.get(PREFIX)).json()["resources"]}
        assert listed == {series.sample_name for series in LOAD_SERIES}
        for name in sorted(listed):
            found = value(samples, name, **labels)
            assert found is not None, f"{name} is not on /metrics"
            answer = await http.get(f"{PREFIX}/namespaces/team-a/{name}", params={"labelSelector": "name=ner"})
            assert [item["value"] for item in answer.json()["items"]] == [quantity(found)], name
