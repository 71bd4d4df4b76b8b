"""controller/memory.py's ``trimmed``: a resource's memory keeps what the next pass reads, and nothing else."""

from __future__ import annotations

import json
from typing import Any

from esml_operator.controller.memory import Entry, delivered, trimmed, wrote
from esml_operator.controller.registry import Registry
from tests.unit.runtime_fakes import FakeES, FakeKube, deleting, operator_for, resource, until
from tests.unit.trim_guard import TrimGuard

URL = "https://es-a:9200"
LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"


def _as_watched(body: dict[str, Any], **annotations: str) -> dict[str, Any]:
    """``body`` as the API server delivers it: managed fields, labels, kubectl's annotation, an owner."""
    meta = {
        **body["metadata"],
        "labels": {"team": "search"},
        "annotations": {LAST_APPLIED: json.dumps(body), **annotations},
        "ownerReferences": [{"apiVersion": "v1", "kind": "ConfigMap", "name": "o", "uid": "o-1"}],
        "managedFields": [{"manager": "kubectl", "operation": "Apply", "fieldsV1": {"f:spec": {".": {}}}}] * 3,
    }
    return {"apiVersion": "esml.io/v1alpha1", "kind": "ModelDeployment", **body, "metadata": meta}


def test_only_the_fields_a_pass_reads_are_kept() -> None:
    body = {**_as_watched(resource("ner", URL), **{"esml.io/skip-stop": "true"}), "status": {"ready": "x"}}
    kept = trimmed(body)
    assert kept == {
        "apiVersion": "esml.io/v1alpha1",
        "kind": "ModelDeployment",
        "spec": body["spec"],
        "status": {"ready": "x"},
        "metadata": {
            **resource("ner", URL)["metadata"],
            "annotations": {"esml.io/skip-stop": "true"},
        },
    }
    assert kept["spec"] is body["spec"]  # shared, not copied
    assert len(json.dumps(kept)) * 2 < len(json.dumps(body))


def test_a_body_without_metadata_or_annotations_of_ours_is_trimmed_too() -> None:
    assert trimmed({"spec": {"a": 1}}) == {"spec": {"a": 1}, "metadata": {}}
    assert "annotations" not in trimmed(_as_watched(resource("ner", URL)))["metadata"]


def test_the_registry_remembers_trimmed_bodies_and_only_our_annotations_are_urgent() -> None:
    registry = Registry()
    body = _as_watched(resource("ner", URL))
    entry, urgent = registry.observe(body)
    assert urgent and entry.body == trimmed(body)
    relabelled = {**body, "metadata": {**body["metadata"], "annotations": {LAST_APPLIED: "{}"}, "labels": {}}}
    assert registry.observe(relabelled) == (entry, False)
    skipping = {**body, "metadata": {**body["metadata"], "annotations": {"esml.io/skip-stop": "true"}}}
    assert registry.observe(skipping) == (entry, True)
    assert entry.meta["annotations"] == {"esml.io/skip-stop": "true"}


def test_the_guard_catches_a_reader_of_a_dropped_field(trim_guard: TrimGuard) -> None:
    """tests/unit/conftest.py fails any test whose readers use a field the registry drops."""
    kept = trim_guard.trimmed(_as_watched(resource("ner", URL), **{"esml.io/skip-stop": "true"}))
    assert kept["metadata"].get("name") == "ner" and "spec" in kept
    assert kept["metadata"]["annotations"].get("esml.io/skip-stop") == "true"
    assert trim_guard.dropped() == set()
    assert kept["metadata"].get("labels") is None and kept["metadata"]["annotations"].get(LAST_APPLIED) is None
    assert trim_guard.dropped() == {"metadata.labels", f"metadata.annotations.{LAST_APPLIED}"}
    trim_guard.reads.clear()  # or this test would fail at teardown


async def test_a_resource_is_reconciled_and_deleted_from_trimmed_bodies(trim_guard: TrimGuard) -> None:
    """Start, status, events, finalizer and deletion, all from what the registry kept."""
    es, kube = FakeES(), FakeKube()
    op = operator_for({URL: es}, kube)
    body = _as_watched(resource("ner", URL, numberOfAllocations=2, deletionPolicy="Stop"))
    op.runtime.observe("ADDED", body)
    await until(lambda: es.deployments.get("ner") == {"number_of_allocations": 2}, what="start")
    await until(lambda: kube.finalizer_writes == [("ner", ["esml.io/stop-deployment"])], what="finalizer added")
    await until(lambda: bool(kube.patches) and bool(kube.events), what="status and event")
    op.runtime.observe("MODIFIED", deleting(body))
    await until(lambda: ("ner", []) in kube.finalizer_writes, what="finalizer released")
    assert "ner" not in es.deployments
    await op.close()
    assert {"metadata.deletionTimestamp", "metadata.finalizers", "metadata.annotations", "spec"} <= trim_guard.reads
    assert trim_guard.dropped() == set()


def test_the_status_written_is_forgotten_once_the_watch_delivers_it() -> None:
    body = resource("ner", URL)
    entry = Entry("uid-ner", body)
    wrote(entry, {"observedGeneration": 1, "allocations": 2})
    delivered(entry, {**body, "status": {"observedGeneration": 1}})  # an older write: ours is still the newest
    assert entry.written_status is not None and entry.stored_status == {"observedGeneration": 1, "allocations": 2}
    delivered(entry, {**body, "status": {"observedGeneration": 1, "allocations": 2, "kopf": {}}})
    assert entry.written_status is None and entry.stored_status == {"observedGeneration": 1, "allocations": 2}
