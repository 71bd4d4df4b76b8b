"""/metrics of real operator processes: every replica serves it, only the leader acts and polls; JSON logs of
a pass carry the resource and its cluster; a deleted resource's series disappear."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable

from prometheus_client.parser import text_string_to_metric_families

from harness.polling import wait_for
from harness.status import converged
from tests.e2e.conftest import Kube, model_deployment
from tests.support.operator import OperatorProcess
from tests.support.simulator import DEMO_MODEL, SimulatorProcess

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def samples(op: OperatorProcess) -> Samples:
    found: Samples = {}
    for family in text_string_to_metric_families(op.metrics()):
        for sample in family.samples:
            found[sample.name, frozenset(sample.labels.items())] = sample.value
    return found


def value(found: Samples, metric: str, **labels: str) -> float | None:
    return found.get((metric, frozenset(labels.items())))


def about(found: Samples, label: str, wanted: str) -> set[str]:
    return {name for name, labels in found if (label, wanted) in labels}


def test_two_replicas_serve_metrics_and_only_the_leader_polls(
    kube: Kube,
    simulator: SimulatorProcess,
    es_url: str,
    es_secrets: dict[str, str],
    operator_factory: Callable[..., OperatorProcess],
) -> None:
    lease = f"esml-{uuid.uuid4().hex[:8]}"
    replicas = [operator_factory("--lease-name", lease, "--log-format", "json") for _ in range(2)]
    kube.apply(model_deployment("ner", es_url, allocations=2))
    wait_for(lambda: converged(kube.mdep("ner"), 2), what="Ready with 2")
    ner = {"namespace": kube.namespace, "name": "ner", "deployment_id": DEMO_MODEL}

    def leader_and_follower() -> tuple[OperatorProcess, OperatorProcess] | None:
        flags = [value(samples(op), "esml_leader_election_leader") for op in replicas]
        if sorted(flags) != [0.0, 1.0]:  # type: ignore[type-var]
            return None
        return (replicas[0], replicas[1]) if flags[0] == 1.0 else (replicas[1], replicas[0])

    leader, follower = wait_for(leader_and_follower, what="one leader and one follower")
    simulator.admin("PUT", f"deployments/{DEMO_MODEL}/_inference_stats", {"number_of_pending_requests": 12})
    wait_for(
        lambda: value(samples(leader), "esml_modeldeployment_inference_pending_requests", **ner) == 12,
        what="the leader reporting the injected load",
    )
    for op in (leader, follower):  # the state of the resource, as the watch delivers it, on every replica
        found = samples(op)
        assert value(found, "esml_modeldeployment_desired_allocations", **ner) == 2
        assert value(found, "esml_modeldeployment_allocations", **ner) == 2
        assert value(found, "esml_modeldeployment_ready", **ner) == 1
        assert (value(found, "esml_watch_events_total", type="ADDED") or 0) >= 1
    on_leader, on_follower = samples(leader), samples(follower)
    assert (value(on_leader, "esml_elasticsearch_requests_total", operation="start", status_class="2xx") or 0) == 1
    assert value(on_leader, "esml_elasticsearch_up", endpoint=es_url) == 1
    assert (value(on_leader, "esml_reconcile_passes_total", outcome="action_succeeded") or 0) >= 1
    assert not about(on_follower, "endpoint", es_url)  # the follower never polled
    assert value(on_follower, "esml_modeldeployment_inference_pending_requests", **ner) is None
    assert not [name for name, _ in on_follower if name == "esml_elasticsearch_requests_total"]
    assert es_secrets["api_key"] not in leader.metrics()

    started = [
        line
        for line in (json.loads(raw) for raw in leader.log.splitlines() if raw.startswith("{"))
        if "Started deployment" in line["message"]
    ]
    assert started and started[0]["resource"] == f"{kube.namespace}/ner" and started[0]["cluster"] == es_url

    kube.kubectl("delete", "mdep", "ner", "--wait=true")
    for op in (leader, follower):
        wait_for(lambda op=op: not about(samples(op), "name", "ner"), what="the deleted resource's series gone")
