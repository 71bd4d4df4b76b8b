"""Settling a successful action on Elasticsearch's answer: one status write where the answer already says it.

Each test runs the pass that acts (``decide``, then ``settle`` with the answer) and, where it matters, the
follow-up pass that verifies the change with a poll taken after it, and counts what each would write
(``worth_writing``) and post.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from esml_operator.controller.writer import worth_writing
from esml_operator.elasticsearch import errors as es
from esml_operator.elasticsearch.models import Assignment, ClusterSnapshot, NodeRoute
from esml_operator.reconcile import (
    ActionFailure,
    Decision,
    Observation,
    RecentAction,
    StartDeployment,
    StopDeployment,
    Succeeded,
    UpdateDeployment,
    settle,
)
from esml_operator.reconcile.outcome import observed_after
from tests.unit.reconcile_helpers import (
    MODEL,
    NOW,
    SNAPSHOT_AT,
    allocation,
    assignment,
    cond,
    observation,
    run,
    spec,
    stats,
    summary,
)

ANSWERED = NOW + timedelta(milliseconds=20)  # when Elasticsearch's answer arrived
FOLLOW_UP = 1.0


def ready_at_two() -> dict[str, Any]:
    """The status of a resource that was Ready at 2 allocations, one on each of two nodes."""
    return run(spec(numberOfAllocations=2), observation(stats()), now=NOW - timedelta(minutes=5)).status


def acted(count: int, previous: dict[str, Any], answer: Assignment | None, **obs: Any) -> tuple[Decision, Decision]:
    """The pass that changes the spec's count to ``count``: its decision, and the decision settled on ``answer``."""
    before = stats(allocation_status=allocation(2, 2))
    decision = run(spec(numberOfAllocations=count), observation(before, **obs), previous)
    (action,) = decision.actions
    return decision, settle(decision, Succeeded(action, answer), ANSWERED, follow_up=FOLLOW_UP)


def follow_up(count: int, running: int, previous: dict[str, Any], answer: Assignment) -> Decision:
    """The follow-up pass: a poll taken after the change shows ``running`` of ``count`` allocations."""
    routes = (
        NodeRoute(node_id="node-a", routing_state="started", node_name="es-ml-0", current_allocations=running // 2),
        NodeRoute(node_id="node-b", routing_state="started", node_name="es-ml-1", current_allocations=running // 2),
    )
    poll = stats(number_of_allocations=count, allocation_status=allocation(running, count), nodes=routes)
    polled_at = ANSWERED + timedelta(seconds=1)
    recent = RecentAction("update", ANSWERED, answer)
    obs = observation(poll, snapshot_at=polled_at, last_assignment=answer, recent=recent)
    return run(spec(numberOfAllocations=count), obs, previous, now=polled_at + timedelta(milliseconds=5))


def written(status: dict[str, Any], previous: dict[str, Any], now: datetime) -> bool:
    return worth_writing(status, previous, now, heartbeat=0.0)


def test_an_answer_at_the_target_is_ready_at_once_and_the_follow_up_writes_nothing() -> None:
    previous = ready_at_two()
    answer = assignment(4, {"node-a": (2, 2), "node-b": (2, 2)})
    decision, settled = acted(4, previous, answer)
    assert cond(decision, "Reconciling")["reason"] == "Updating"  # as decided before the answer
    assert summary(settled) == ("True", "FullyAllocated", "False", "False", "NotStalled")
    assert (settled.status["allocations"], settled.status["taskParameters"]["numberOfAllocations"]) == (4, 4)
    assert settled.status["lastUpdateTime"] == "2026-11-25T10:00:00Z"
    assert [(e.type, e.reason) for e in settled.events] == [("Normal", "DeploymentUpdated")]  # Ready did not flip
    assert settled.requeue_after == FOLLOW_UP  # the change is still verified by a poll after it
    assert written(settled.status, previous, ANSWERED)
    after = follow_up(4, 4, settled.status, answer)
    assert after.actions == () and after.events == ()
    assert after.status["lastSyncTime"] != settled.status["lastSyncTime"]  # the newer poll, and nothing else
    assert not written(after.status, settled.status, ANSWERED + timedelta(seconds=2))


def test_an_answer_short_of_the_target_says_so_and_the_follow_up_writes_ready() -> None:
    previous = ready_at_two()
    answer = assignment(4, {"node-a": (1, 2), "node-b": (1, 2)})  # started routes still run their old count
    _, settled = acted(4, previous, answer)
    ready, reconciling = cond(settled, "Ready"), cond(settled, "Reconciling")
    assert (ready["status"], ready["reason"]) == ("False", "Allocating")
    assert ready["message"] == f"Deployment [{MODEL}] has 2 of 4 allocations"
    assert (reconciling["status"], reconciling["reason"]) == ("True", "Allocating")
    assert settled.status["targetAllocations"] == 4
    assert [e.reason for e in settled.events] == ["DeploymentUpdated"]
    assert settled.requeue_after == FOLLOW_UP
    after = follow_up(4, 4, settled.status, answer)
    assert summary(after)[:2] == ("True", "FullyAllocated")
    assert [(e.type, e.reason) for e in after.events] == [("Normal", "Ready")]  # Ready flips later: its own event
    assert written(after.status, settled.status, ANSWERED + timedelta(seconds=2))


def test_a_follow_up_poll_that_still_shows_the_answer_writes_nothing() -> None:
    answer = assignment(4, {"node-a": (1, 2), "node-b": (1, 2)})
    _, settled = acted(4, ready_at_two(), answer)
    after = follow_up(4, 2, settled.status, answer)  # allocations still on their way
    assert summary(after)[:2] == ("False", "Allocating")
    assert not written(after.status, settled.status, ANSWERED + timedelta(seconds=2))


def test_when_ready_flips_with_the_change_one_event_says_both() -> None:
    # The last attempt was refused (Ready False); the retry succeeds and the answer shows the target.
    refused = ActionFailure("update", es.ServerError("busy", status=503), NOW - timedelta(seconds=30), 1, 3)
    previous = run(spec(numberOfAllocations=4), observation(stats(), last_failure=refused)).status
    assert cond_of(previous, "Ready")["status"] == "False"
    answer = assignment(4, {"node-a": (2, 2), "node-b": (2, 2)})
    _, settled = acted(4, previous, answer, last_failure=refused)
    assert summary(settled)[:2] == ("True", "FullyAllocated")  # the answer ends the failure
    (event,) = settled.events
    assert (event.type, event.reason) == ("Normal", "DeploymentUpdated")
    assert event.message == (
        f"Updated deployment [{MODEL}] number_of_allocations 2 -> 4; assignment state started; "
        f"Ready: Deployment [{MODEL}] is fully allocated: 4 of 4 allocations"
    )


def test_a_start_is_reported_as_starting_from_its_answer() -> None:
    missing = observation(snapshot=ClusterSnapshot(model_ids=frozenset({MODEL})))
    decision = run(spec(numberOfAllocations=2), missing)
    (action,) = decision.actions
    assert isinstance(action, StartDeployment)
    assert cond(decision, "Ready")["reason"] == "DeploymentNotFound"
    starting = NodeRoute("node-a", "starting", current_allocations=2, target_allocations=2)  # as ES plans it
    answer = replace(assignment(2, {}), assignment_state="starting", routing_table=(starting,))
    settled = settle(decision, Succeeded(action, answer), ANSWERED, follow_up=FOLLOW_UP)
    ready = cond(settled, "Ready")
    assert (ready["status"], ready["reason"]) == ("False", "Starting")
    assert ready["message"] == f"Deployment [{MODEL}] is starting (0 of 2 allocations)"
    assert settled.status["assignmentState"] == "starting"
    assert [e.reason for e in settled.events] == ["DeploymentStarted"]
    assert settled.requeue_after == FOLLOW_UP


def test_an_answer_without_an_assignment_keeps_the_status_as_decided() -> None:
    decision = run(spec(numberOfAllocations=0), observation(stats()))
    (action,) = decision.actions
    assert isinstance(action, StopDeployment)
    settled = settle(decision, Succeeded(action, None), ANSWERED, follow_up=FOLLOW_UP)
    assert settled.status == {**decision.status, "lastUpdateTime": "2026-11-25T10:00:00Z"}
    assert [e.reason for e in settled.events] == ["DeploymentStopped"]
    assert settled.requeue_after == FOLLOW_UP


def test_observed_after_folds_the_answer_in_as_the_freshest_view() -> None:
    refused = ActionFailure("update", es.ServerError("busy", status=503), SNAPSHOT_AT, 1, 3)
    before = observation(stats(), last_failure=refused)
    action = UpdateDeployment(MODEL, 4, None, False, from_number_of_allocations=2)
    answer = assignment(4, {"node-a": (2, 2), "node-b": (2, 2)})
    after = observed_after(before, action, answer, ANSWERED)
    assert isinstance(after, Observation)
    assert after.recent == RecentAction("update", ANSWERED, answer, action)
    assert (after.last_assignment, after.last_failure) == (answer, None)
    assert (after.snapshot, after.snapshot_at) == (before.snapshot, before.snapshot_at)  # the poll is kept
    assert observed_after(before, StopDeployment(MODEL), None, ANSWERED) is None


def cond_of(status: dict[str, Any], kind: str) -> dict[str, Any]:
    (found,) = [c for c in status["conditions"] if c["type"] == kind]
    return dict(found)
