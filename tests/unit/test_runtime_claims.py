"""Which resource manages a deployment when two name it on the same cluster."""

from __future__ import annotations

from typing import Any

from esml_operator.elasticsearch.connections import ConnectionPool
from esml_operator.handlers.runtime import Entry, Runtime
from esml_operator.settings import Settings

CLAIM = ("https://es:9200", "dep")


def body(name: str, created: str, *, in_conflict: bool = False) -> dict[str, Any]:
    reason = "DeploymentConflict" if in_conflict else "NotStalled"
    return {
        "metadata": {"name": name, "namespace": "ns", "uid": f"uid-{name}", "creationTimestamp": created},
        "status": {"conditions": [{"type": "Stalled", "status": str(in_conflict), "reason": reason}]},
    }


def runtime_with(*bodies: dict[str, Any]) -> tuple[Runtime, list[Entry]]:
    runtime = Runtime(Settings(all_namespaces=True), kube=None, pool=ConnectionPool())  # type: ignore[arg-type]
    entries = [Entry(uid=b["metadata"]["uid"], body=b) for b in bodies]
    for entry in entries:
        runtime.entries[entry.uid] = entry
    return runtime, entries


def test_the_older_resource_holds_the_deployment() -> None:
    runtime, (old, new) = runtime_with(body("old", "2026-11-25T10:00:00Z"), body("new", "2026-11-25T10:00:05Z"))
    assert runtime._claim(new, CLAIM) is None  # alone so far
    assert runtime._claim(old, CLAIM) is None  # older: it holds it
    assert runtime._claim(new, CLAIM) is old


def test_same_second_the_first_claimant_wins_whatever_the_uids() -> None:
    # uid order would pick "a" first; claim order must win.
    runtime, (b, a) = runtime_with(body("b", "2026-11-25T10:00:00Z"), body("a", "2026-11-25T10:00:00Z"))
    assert runtime._claim(b, CLAIM) is None
    assert runtime._claim(a, CLAIM) is b
    assert runtime._claim(b, CLAIM) is None  # re-claiming the same keeps its place


def test_after_a_restart_the_one_reported_in_conflict_stays_out() -> None:
    runtime, (loser, holder) = runtime_with(
        body("loser", "2026-11-25T10:00:00Z", in_conflict=True), body("holder", "2026-11-25T10:00:00Z")
    )
    assert runtime._claim(loser, CLAIM) is None  # it claims first in this new process ...
    assert runtime._claim(holder, CLAIM) is None  # ... but the previous holder keeps the deployment
    assert runtime._claim(loser, CLAIM) is holder


def test_a_resource_being_deleted_gives_way() -> None:
    runtime, (old, new) = runtime_with(body("old", "2026-11-25T10:00:00Z"), body("new", "2026-11-25T10:00:05Z"))
    runtime._claim(old, CLAIM)
    old.body["metadata"]["deletionTimestamp"] = "2026-11-25T11:00:00Z"
    assert runtime._claim(new, CLAIM) is None
