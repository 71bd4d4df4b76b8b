"""The /metrics series, from the real runtime objects against in-memory Kubernetes and Elasticsearch."""

from __future__ import annotations

import base64
import socket

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from esml_operator import __version__
from esml_operator.kube.api import SecretData
from esml_operator.manager.operator import Operator
from esml_operator.metrics.http import HttpServer, metrics_app
from esml_operator.metrics.prometheus import LeaderState
from esml_operator.metrics.servers import Servers
from esml_operator.settings import Settings
from tests.unit.runtime_fakes import FakeES, FakeKube, operator_for, resource, until

URL = "https://es-a:9200"
NER = {"namespace": "ns", "name": "ner", "deployment_id": "ner"}


def scrape(op: Operator) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    body, content_type = op.metrics.exposition("text/plain")
    assert content_type.startswith("text/plain")
    samples = {}
    for family in text_string_to_metric_families(body.decode()):
        for sample in family.samples:
            samples[sample.name, frozenset(sample.labels.items())] = sample.value
    return samples


def value(samples: dict[tuple[str, frozenset[tuple[str, str]]], float], metric: str, **labels: str) -> float | None:
    return samples.get((metric, frozenset(labels.items())))


def names_with(samples: dict[tuple[str, frozenset[tuple[str, str]]], float], label: str, wanted: str) -> set[str]:
    return {name for name, labels in samples if (label, wanted) in labels}


async def test_a_reconciled_resource_its_requests_and_its_cluster() -> None:
    es, kube = FakeES(), FakeKube()
    op = operator_for({URL: es}, kube)
    op.runtime.observe("ADDED", resource("ner", URL, numberOfAllocations=2))
    op.metrics.observe_watch_event("ADDED")

    # Ready from the _start answer; the load comes with the follow-up pass's poll, which shows the deployment.
    def followed_up() -> bool:
        samples = scrape(op)
        return (
            value(samples, "esml_modeldeployment_ready", **NER) == 1.0
            and value(samples, "esml_reconcile_passes_total", outcome="no_action") is not None
            and value(samples, "esml_modeldeployment_inference_pending_requests", **NER) is not None
        )

    await until(followed_up, what="Ready series and the follow-up pass")
    samples = scrape(op)
    assert value(samples, "esml_modeldeployment_desired_allocations", **NER) == 2
    assert value(samples, "esml_modeldeployment_allocations", **NER) == 2
    assert value(samples, "esml_modeldeployment_target_allocations", **NER) == 2
    assert value(samples, "esml_modeldeployment_stalled", **NER) == 0
    assert value(samples, "esml_modeldeployment_paused", **NER) == 0
    assert value(samples, "esml_modeldeployment_adaptive_allocations_enabled", **NER) == 0
    assert value(samples, "esml_modeldeployment_inference_pending_requests", **NER) == 0  # the fake has no load
    assert value(samples, "esml_reconcile_passes_total", outcome="action_succeeded") == 1
    assert (value(samples, "esml_reconcile_passes_total", outcome="no_action") or 0) >= 1
    assert value(samples, "esml_reconcile_duration_seconds_count") == sum(
        v for (name, _), v in samples.items() if name == "esml_reconcile_passes_total"
    )
    assert value(samples, "esml_elasticsearch_requests_total", operation="info", status_class="2xx") == 1
    assert value(samples, "esml_elasticsearch_requests_total", operation="start", status_class="2xx") == 1
    stats = value(samples, "esml_elasticsearch_requests_total", operation="stats", status_class="2xx")
    assert stats == es.count("_stats") >= 1
    assert value(samples, "esml_elasticsearch_request_duration_seconds_count", operation="start") == 1
    assert value(samples, "esml_elasticsearch_up", endpoint=URL) == 1
    assert (value(samples, "esml_elasticsearch_last_successful_poll_timestamp_seconds", endpoint=URL) or 0) > 1e9
    assert value(samples, "esml_elasticsearch_poll_errors_total", endpoint=URL) is None
    assert value(samples, "esml_watch_events_total", type="ADDED") == 1
    assert (value(samples, "esml_watch_last_event_timestamp_seconds") or 0) > 1e9
    await op.close()


async def test_a_deleted_resources_series_disappear_and_an_unused_clusters_too() -> None:
    es, kube = FakeES(), FakeKube()
    op = operator_for({URL: es}, kube, resync_interval=0.05, min_poll_interval=0.01)
    op.runtime.observe("ADDED", resource("ner", URL))
    op.runtime.observe("ADDED", resource("other", URL))
    await until(lambda: value(scrape(op), "esml_modeldeployment_ready", **NER) == 1.0, what="Ready")
    op.runtime.start()
    op.runtime.observe("DELETED", resource("ner", URL))
    samples = scrape(op)
    assert not names_with(samples, "name", "ner"), "every series of the deleted resource is gone"
    assert names_with(samples, "name", "other")
    assert value(samples, "esml_elasticsearch_up", endpoint=URL) == 1
    op.runtime.observe("DELETED", resource("other", URL))
    await until(lambda: not names_with(scrape(op), "endpoint", URL), what="the cluster's series gone after a resync")
    await op.close()


class FailingStats(FakeES):
    async def handle(self, request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/_stats"):
            self.calls.append(f"{request.method} {request.url.path}")
            return self._json({"error": {"type": "status_exception", "reason": "busy"}, "status": 503}, 503)
        return await super().handle(request)


async def test_poll_errors_and_reachability() -> None:
    failing, refused, kube = FailingStats(), FakeES(), FakeKube()
    refused.refuse = True
    op = operator_for({URL: failing, "https://es-b:9200": refused}, kube)
    op.runtime.observe("ADDED", resource("ner", URL))
    op.runtime.observe("ADDED", resource("down", "https://es-b:9200"))
    await until(lambda: value(scrape(op), "esml_elasticsearch_up", endpoint="https://es-b:9200") == 0.0, what="refused")
    await until(lambda: value(scrape(op), "esml_elasticsearch_poll_errors_total", endpoint=URL), what="poll error")
    samples = scrape(op)
    assert value(samples, "esml_elasticsearch_up", endpoint=URL) == 0  # it answers, but with a 5xx
    assert value(samples, "esml_elasticsearch_last_successful_poll_timestamp_seconds", endpoint=URL) is None
    assert value(samples, "esml_elasticsearch_requests_total", operation="stats", status_class="5xx") == 1
    assert value(samples, "esml_elasticsearch_requests_total", operation="info", status_class="error") == 1
    await op.close()


async def test_leadership_series() -> None:
    op = operator_for({}, FakeKube())
    assert "esml_leader_election_leader" not in {name for name, _ in scrape(op)}  # no election: no series
    op.metrics.leader = lambda: LeaderState(leading=True, transitions=2, lease_transitions=5)
    samples = scrape(op)
    assert value(samples, "esml_leader_election_leader") == 1
    assert value(samples, "esml_leader_election_acquired_total") == 2
    assert value(samples, "esml_leader_election_lease_transitions") == 5
    await op.close()


async def test_the_metrics_endpoint_serves_prometheus_and_openmetrics() -> None:
    op = operator_for({}, FakeKube())
    op.metrics.observe_watch_event("MODIFIED")
    server = HttpServer(metrics_app(op.metrics.registry, "/metrics"), "127.0.0.1", 0, what="metrics")
    await server.start()
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{server.bound_port}") as client:
            plain = await client.get("/metrics")
            assert plain.status_code == 200 and plain.headers["content-type"].startswith("text/plain")
            assert 'esml_watch_events_total{type="MODIFIED"} 1.0' in plain.text
            open_metrics = await client.get("/metrics", headers={"Accept": "application/openmetrics-text"})
            assert open_metrics.headers["content-type"].startswith("application/openmetrics-text")
            assert open_metrics.text.rstrip().endswith("# EOF")
            assert (await client.get("/other")).status_code == 404
            # prometheus-client's handler: compressed when the scraper accepts it, and only the families asked for
            gzipped = await client.get("/metrics", headers={"Accept-Encoding": "gzip"})
            assert gzipped.headers["content-encoding"] == "gzip"
            assert 'esml_watch_events_total{type="MODIFIED"} 1.0' in gzipped.text  # httpx decompressed it
            only = await client.get("/metrics", params={"name[]": "esml_watch_events_total"})
            assert [line for line in only.text.splitlines() if not line.startswith("#")] == [
                'esml_watch_events_total{type="MODIFIED"} 1.0'
            ]
    finally:
        await server.stop()
        await op.close()


class KubeWithSecret(FakeKube):
    async def read_secret(self, namespace: str, name: str, *, fresh: bool = False) -> SecretData | None:
        return SecretData("1", {"api_key": API_KEY.encode()}) if name == "es-credentials" else None


API_KEY = "my-id:my-very-secret-key"


async def test_secrets_never_appear_in_the_metrics() -> None:
    es = FakeES()
    op = operator_for({URL: es}, KubeWithSecret())
    body = resource("ner", URL)
    body["spec"]["elasticsearch"]["credentialsSecretRef"] = {"name": "es-credentials"}
    op.runtime.observe("ADDED", body)
    await until(lambda: value(scrape(op), "esml_modeldeployment_ready", **NER) == 1.0, what="Ready")
    text = op.metrics.exposition(None)[0].decode()
    encoded = base64.b64encode(API_KEY.encode()).decode()
    for secret in (API_KEY, "my-very-secret-key", encoded, encoded[:16]):
        assert secret not in text
    assert f'endpoint="{URL}"' in text  # the cluster is named by its URL only
    await op.close()


async def test_a_busy_metrics_port_is_logged_and_the_operator_runs_on(caplog: pytest.LogCaptureFixture) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        settings = Settings(all_namespaces=True, leader_election=False, metrics_endpoint=f"http://127.0.0.1:{port}/m")
        op = operator_for({}, FakeKube())
        servers = Servers(settings, op.metrics, api_client=None)
        await servers.start(lambda: True)  # no exception
        await servers.stop()
        await op.close()
    assert any("cannot serve metrics" in r.getMessage() and r.levelname == "ERROR" for r in caplog.records)


async def test_the_resource_count_and_the_operator_info() -> None:
    op = operator_for({}, FakeKube())
    try:
        assert value(scrape(op), "esml_modeldeployments") == 0
        for name in ("a", "b", "c"):
            op.runtime.observe("ADDED", resource(name, URL))
        op.runtime.observe("DELETED", resource("b", URL))
        assert value(scrape(op), "esml_modeldeployments") == 2 == op.metrics.resources()
        assert value(scrape(op), "esml_operator_info", version=__version__, event_loop="unknown") == 1
        op.metrics.event_loop = "uvloop"  # what the manager sets at start-up
        assert value(scrape(op), "esml_operator_info", version=__version__, event_loop="uvloop") == 1
    finally:
        await op.close()
