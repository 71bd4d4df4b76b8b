"""The freshest view (an action's answer beats an older poll), coalescing, and settling an action's outcome."""

from __future__ import annotations

from datetime import timedelta

import pytest

from esml_operator.elasticsearch import errors as es
from esml_operator.reconcile import ActionFailure, Failed, RecentAction, Succeeded, UpdateDeployment, settle
from tests.unit.reconcile_helpers import (
    NOW,
    SNAPSHOT_AT,
    assignment,
    cond,
    observation,
    run,
    spec,
    stats,
    summary,
)

AFTER_SNAPSHOT = SNAPSHOT_AT + timedelta(seconds=2)


def updated_to(number: int) -> RecentAction:
    return RecentAction("update", AFTER_SNAPSHOT, assignment(number, {"node-a": (1, 1), "node-b": (1, number - 1)}))


def test_the_last_update_answer_is_the_view_when_the_poll_is_older() -> None:
    # The poll says 2; the operator has since set 3; the spec now says 4: one update 3 -> 4.
    decision = run(spec(numberOfAllocations=4), observation(stats(), recent=updated_to(3)))
    (action,) = decision.actions
    assert isinstance(action, UpdateDeployment)
    assert (action.from_number_of_allocations, action.number_of_allocations) == (3, 4)


def test_no_call_when_the_last_answer_already_matches_the_spec() -> None:
    decision = run(spec(numberOfAllocations=3), observation(stats(), recent=updated_to(3)))
    assert decision.actions == ()
    assert decision.status["taskParameters"]["numberOfAllocations"] == 3  # status shows what ES last said
    assert summary(decision)[0] == "False"  # not Ready on the answer alone: allocations still move


def test_a_poll_newer_than_the_change_wins_again() -> None:
    recent = RecentAction("update", SNAPSHOT_AT - timedelta(seconds=1), assignment(3, {"node-a": (1, 3)}))
    decision = run(spec(numberOfAllocations=2), observation(stats(), recent=recent))
    assert decision.actions == ()
    assert summary(decision)[:2] == ("True", "FullyAllocated")


def test_with_a_change_in_memory_last_update_time_does_not_hold_a_change_back() -> None:
    previous = {"lastUpdateTime": "2026-11-25T09:59:58Z"}  # newer than the poll
    decision = run(spec(numberOfAllocations=4), observation(stats(), recent=updated_to(2)), previous)
    assert len(decision.actions) == 1


def test_a_spent_change_budget_defers_the_call() -> None:
    decision = run(spec(numberOfAllocations=4), observation(stats(), throttle_wait=0.25))
    assert decision.actions == ()
    assert cond(decision, "Reconciling")["reason"] == "Coalescing"
    assert decision.requeue_after == pytest.approx(0.25)


def test_success_records_the_change_and_looks_again_soon() -> None:
    decision = run(spec(numberOfAllocations=4), observation(stats()))
    (action,) = decision.actions
    settled = settle(decision, Succeeded(action, assignment(4, {"node-a": (1, 2)})), NOW, follow_up=1.0)
    assert settled.status["lastUpdateTime"] == "2026-11-25T10:00:00Z"
    assert settled.events[-1].reason == "DeploymentUpdated"
    assert settled.requeue_after == 1.0
    # Settled on the answer (1 of 4 running), as the next pass will see it: no longer "Updating".
    assert summary(settled)[:3] == ("False", "Allocating", "True")
    assert settled.status["taskParameters"]["numberOfAllocations"] == 4


def test_a_failure_is_settled_as_the_next_pass_will_decide_it() -> None:
    decision = run(spec(numberOfAllocations=4), observation(stats()))
    error = es.TooManyRequestsError("no ML nodes with sufficient capacity", status=429, error_type="status_exception")
    failure = ActionFailure("update", error, NOW, 1, 3)
    settled = settle(decision, Failed(failure), NOW, follow_up=1.0)
    assert summary(settled) == ("False", "status_exception", "False", "True", "status_exception")
    # The next pass (same poll, the failure in memory) finds the same conditions: nothing flips in between.
    following = run(spec(numberOfAllocations=4), observation(stats(), last_failure=failure), settled.status)
    assert following.status["conditions"] == settled.status["conditions"]
    assert settled.status["taskParameters"] == decision.status["taskParameters"]  # observed fields as decided
    assert [e.type for e in settled.events] == ["Warning"]
    assert settled.requeue_after is not None and settled.requeue_after <= 1.0  # attempt 1: window 1 s x jitter


def test_settle_needs_a_decision_with_an_action() -> None:
    decision = run(spec(numberOfAllocations=2), observation(stats()))
    with pytest.raises(ValueError, match="planned an action"):
        settle(decision, Failed(ActionFailure("update", es.ServerError("x"), NOW, 1, 3)), NOW, follow_up=1.0)
