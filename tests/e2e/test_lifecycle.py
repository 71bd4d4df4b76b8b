"""Create, update, drift, events, field ownership and shared polling: the main job through kubectl."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from typing import Any

from harness.polling import wait_for
from harness.runner import ControlPlane
from harness.status import converged
from tests.e2e.conftest import Kube, model_deployment, ready
from tests.support.operator import OperatorProcess
from tests.support.polls import STATS_POLL, stats_polls
from tests.support.simulator import DEMO_MODEL, SimulatorProcess

RESYNC = 2.0  # the operator fixture's resync interval


def polls(simulator: SimulatorProcess) -> int:
    """How many cluster-wide ``_stats`` polls the operator has made (one per resync pass, shared)."""
    return len(stats_polls(simulator))


def wait_polls(simulator: SimulatorProcess, count: int) -> None:
    """Let ``count`` more resync passes happen (measured by the polls they make, not by time)."""
    target = polls(simulator) + count
    wait_for(lambda: polls(simulator) >= target, timeout=count * RESYNC + 15, what=f"{count} more _stats polls")


def updates(simulator: SimulatorProcess) -> list[dict[str, Any]]:
    return simulator.requests("/deployment/_update", method="POST")


def es_deployment(simulator: SimulatorProcess, deployment_id: str = DEMO_MODEL) -> dict[str, Any]:
    """The deployment's ``deployment_stats`` as Elasticsearch reports them (it must exist)."""
    stats = simulator.deployment(deployment_id)
    assert stats is not None, f"deployment {deployment_id} does not exist"
    return stats


def event_reasons(kube: Kube, name: str) -> list[str]:
    return sorted(e["reason"] for e in kube.events(name))


def test_create_starts_the_deployment_and_reports_ready(
    kube: Kube, simulator: SimulatorProcess, es_url: str, es_secrets: dict[str, str], operator: OperatorProcess
) -> None:
    kube.apply(model_deployment("ner", es_url, allocations=2))
    # kstatus-style waiting, as Flux users and `kubectl wait` do.
    kube.kubectl("wait", "--for=condition=Ready", "--timeout=60s", "modeldeployment/ner")
    starts = simulator.requests("/deployment/_start", method="POST")
    assert len(starts) == 1
    assert starts[0]["query"].get("number_of_allocations") == "2"
    status = kube.mdep("ner")["status"]
    assert status["allocations"] == 2 and status["allocationState"] == "fully_allocated"
    assert status["taskParameters"]["deploymentId"] == DEMO_MODEL
    assert sum(r["currentAllocations"] for r in status["routingTable"]) == 2
    assert es_deployment(simulator)["allocation_status"]["allocation_count"] == 2
    assert ready(kube, "ner")
    # Converged and steady: no further writes to Elasticsearch on later polls.
    assert not simulator.requests("/deployment/_update")


def test_changing_number_of_allocations_sends_exactly_one_update(
    kube: Kube, simulator: SimulatorProcess, es_url: str, es_secrets: dict[str, str], operator: OperatorProcess
) -> None:
    kube.apply(model_deployment("ner", es_url, allocations=1))
    wait_for(lambda: converged(kube.mdep("ner"), 1), what="1 allocation, Ready")
    wait_polls(simulator, 3)
    assert not updates(simulator), "a converged resource must never get a no-op _update"

    kube.kubectl("patch", "mdep", "ner", "--type=merge", "-p", json.dumps({"spec": {"numberOfAllocations": 3}}))
    status = wait_for(lambda: converged(kube.mdep("ner"), 3), what="3 allocations, Ready again")
    sent = updates(simulator)
    assert [r["body"] for r in sent] == [{"number_of_allocations": 3}]
    assert not sent[0]["query"].get("number_of_allocations")
    assert status["targetAllocations"] == 3 and status["taskParameters"]["numberOfAllocations"] == 3
    routes = status["routingTable"]
    assert {r["nodeName"] for r in routes} <= {"ml-0", "ml-1"} and routes
    assert sum(r["currentAllocations"] for r in routes) == 3
    assert sum(r["targetAllocations"] for r in routes) == 3
    assert all(r["routingState"] == "started" for r in routes)
    assert es_deployment(simulator)["number_of_allocations"] == 3

    # The same change through `kubectl apply` of the whole manifest.
    kube.apply(model_deployment("ner", es_url, allocations=2))
    wait_for(lambda: converged(kube.mdep("ner"), 2), what="2 allocations, Ready again")
    assert [r["body"] for r in updates(simulator)] == [{"number_of_allocations": 3}, {"number_of_allocations": 2}]

    # Steady across several resync passes: no further _update, no _start.
    wait_polls(simulator, 4)
    assert len(updates(simulator)) == 2
    assert len(simulator.requests("/deployment/_start", method="POST")) == 1
    assert ready(kube, "ner")


def test_drift_made_behind_the_operators_back_is_corrected(
    kube: Kube, simulator: SimulatorProcess, es_url: str, es_secrets: dict[str, str], operator: OperatorProcess
) -> None:
    kube.apply(model_deployment("ner", es_url, allocations=2))
    wait_for(lambda: converged(kube.mdep("ner"), 2), what="2 allocations, Ready")
    # A Kibana user changes the count (the admin API is not recorded as an Elasticsearch request).
    changed_at = time.time()
    simulator.admin("POST", f"deployments/{DEMO_MODEL}/_set_allocations", {"number_of_allocations": 3})
    sent = wait_for(lambda: updates(simulator), timeout=3 * RESYNC + 10, what="the corrective _update")
    assert [r["body"] for r in sent] == [{"number_of_allocations": 2}]
    # Within a resync interval (plus the poll and a little scheduling slack).
    assert sent[0]["wall_time"] - changed_at < RESYNC + 2.0
    wait_for(lambda: converged(kube.mdep("ner"), 2), what="back to 2 allocations, Ready")
    assert es_deployment(simulator)["number_of_allocations"] == 2
    wait_for(
        lambda: [e for e in kube.events("ner") if e["reason"] == "DeploymentUpdated"],
        what="a DeploymentUpdated event",
    )
    (event,) = [e for e in kube.events("ner") if e["reason"] == "DeploymentUpdated"]
    assert event["type"] == "Normal"
    assert "number_of_allocations 3 -> 2" in event["message"], event["message"]
    wait_polls(simulator, 3)
    assert len(updates(simulator)) == 1


def test_one_event_per_elasticsearch_action_not_per_poll(
    kube: Kube, simulator: SimulatorProcess, es_url: str, es_secrets: dict[str, str], operator: OperatorProcess
) -> None:
    kube.apply(model_deployment("ner", es_url, allocations=1))
    wait_for(lambda: converged(kube.mdep("ner"), 1), what="Ready")
    kube.kubectl("patch", "mdep", "ner", "--type=merge", "-p", '{"spec":{"numberOfAllocations":2}}')
    wait_for(lambda: converged(kube.mdep("ner"), 2), what="2 allocations, Ready")
    wait_polls(simulator, 5)
    events = kube.events("ner")
    by_reason: dict[str, list[dict[str, Any]]] = {}
    for event in events:
        by_reason.setdefault(event["reason"], []).append(event)
    assert len(by_reason.get("DeploymentStarted", [])) == 1, events
    assert len(by_reason.get("DeploymentUpdated", [])) == 1, events
    assert all(e["type"] == "Normal" for e in by_reason["DeploymentStarted"] + by_reason["DeploymentUpdated"])
    assert all(e.get("count", 1) == 1 for e in events)
    # Ready transitions at most once per action (not per poll); nothing else is recorded.
    assert len(by_reason.get("Ready", [])) <= 2
    assert set(by_reason) <= {"DeploymentStarted", "DeploymentUpdated", "Ready"}, sorted(by_reason)
    assert [e["source"].get("component") for e in events] == ["esml-operator"] * len(events)


def _field_paths(fields: dict[str, Any], prefix: str = "") -> set[str]:
    """Leaf paths of a FieldsV1 tree (``f:status.f:conditions`` ...), at depth two at most."""
    paths = set()
    for key, value in fields.items():
        path = f"{prefix}.{key}" if prefix else key
        if prefix or not isinstance(value, dict) or not value:
            paths.add(path)
        else:
            paths |= _field_paths(value, path)
    return paths


def test_the_operator_writes_only_status_and_its_finalizer(
    kube: Kube, simulator: SimulatorProcess, es_url: str, es_secrets: dict[str, str], operator: OperatorProcess
) -> None:
    kube.apply(model_deployment("ner", es_url, allocations=1, deletionPolicy="Stop"))
    wait_for(lambda: converged(kube.mdep("ner"), 1), what="Ready")
    kube.kubectl("patch", "mdep", "ner", "--type=merge", "-p", '{"spec":{"numberOfAllocations":2}}')
    wait_for(lambda: converged(kube.mdep("ner"), 2), what="2 allocations, Ready")
    wait_polls(simulator, 2)
    obj = json.loads(kube.kubectl("get", "mdep", "ner", "-o", "json", "--show-managed-fields").stdout)
    meta = obj["metadata"]
    assert meta["finalizers"] == ["esml.io/stop-deployment"]
    # Only kubectl's own last-applied annotation: the operator adds none, and kopf keeps no state on the object.
    assert set(meta.get("annotations", {})) <= {"kubectl.kubernetes.io/last-applied-configuration"}
    assert not meta.get("labels")

    operator_entries = [m for m in meta["managedFields"] if not m["manager"].startswith("kubectl")]
    assert operator_entries, meta["managedFields"]
    seen_status = seen_finalizer = False
    for entry in operator_entries:
        paths = _field_paths(entry["fieldsV1"])
        if entry.get("subresource") == "status":
            assert all(p.startswith("f:status") for p in paths), (entry["manager"], paths)
            seen_status = True
        else:
            assert paths == {"f:metadata.f:finalizers"}, (entry["manager"], paths)
            seen_finalizer = True
    assert seen_status and seen_finalizer, [(m["manager"], m.get("subresource")) for m in operator_entries]
    # The operator itself adds the finalizer and patches status, both as "esml-operator" (kopf only watches).
    assert {m["manager"] for m in operator_entries} == {"esml-operator"}
    assert "kopf" not in obj.get("status", {})
    assert all(m["operation"] == "Update" for m in operator_entries)
    # kubectl owns the spec; nobody else does.
    spec_owners = {m["manager"] for m in meta["managedFields"] if "f:spec" in m["fieldsV1"]}
    assert spec_owners and all(owner.startswith("kubectl") for owner in spec_owners), spec_owners


def test_polling_is_per_cluster_not_per_resource(
    kube: Kube, simulator: SimulatorProcess, es_url: str, es_secrets: dict[str, str], operator: OperatorProcess
) -> None:
    names = [f"ner-{i}" for i in range(5)]
    for name in names:
        kube.apply(model_deployment(name, es_url, deploymentId=name))
    wait_for(lambda: all(converged(kube.mdep(name), 1) for name in names), what="all five Ready")
    assert len(simulator.requests("/deployment/_start", method="POST")) == 5
    before, started = polls(simulator), time.monotonic()
    # Measuring a rate needs elapsed time: watch for 5 resync intervals.
    time.sleep(5 * RESYNC)
    elapsed = time.monotonic() - started
    made = polls(simulator) - before
    intervals = elapsed / RESYNC
    # About one poll per interval for the whole cluster (five per interval would be one per resource).
    assert intervals - 2 <= made <= intervals + 2, (made, intervals)
    assert not updates(simulator)
    assert not [
        r
        # Per-resource polls: a model's own _stats (a short deployment's _ml/memory/_stats is a capacity read).
        for r in simulator.requests("/_ml/trained_models/", method="GET")
        if r["path"].endswith("/_stats")
        and STATS_POLL not in r["path"]
        and "python-httpx" not in r["headers"].get("User-Agent", r["headers"].get("user-agent", ""))
    ]


def test_all_namespaces_mode_reconciles_every_namespace(
    control_plane: ControlPlane,
    kube: Kube,
    simulator: SimulatorProcess,
    es_url: str,
    es_secrets: dict[str, str],
    operator_factory: Callable[..., OperatorProcess],
) -> None:
    other = Kube(control_plane, f"t-{uuid.uuid4().hex[:10]}")
    control_plane.kubectl("create", "namespace", other.namespace)
    try:
        other.secret("es-credentials", {"api_key": es_secrets["api_key"]})
        other.secret("es-ca", {"ca.crt": simulator.ca_pem})
        op = operator_factory(all_namespaces=True)
        assert "--all-namespaces" in op.process.popen.args
        kube.apply(model_deployment("here", es_url, deploymentId="dep-here"))
        other.apply(model_deployment("there", es_url, deploymentId="dep-there"))
        wait_for(lambda: ready(kube, "here") and ready(other, "there"), what="both namespaces Ready")
        started = sorted(r["query"]["deployment_id"] for r in simulator.requests("/deployment/_start"))
        assert started == ["dep-here", "dep-there"]
    finally:
        control_plane.kubectl("delete", "namespace", other.namespace, "--wait=false", check=False)
