"""Scale to zero: ``numberOfAllocations: 0`` stops the deployment (never forced) and keeps the resource."""

from __future__ import annotations

from datetime import timedelta

from esml_operator.elasticsearch.models import ClusterSnapshot
from esml_operator.reconcile import RecentAction, StartDeployment, StopDeployment
from tests.unit.reconcile_helpers import (
    ADAPTIVE_SPEC,
    MODEL,
    NOW,
    adaptive,
    observation,
    run,
    spec,
    stats,
    summary,
)


def test_a_running_deployment_is_stopped_without_force() -> None:
    decision = run(spec(numberOfAllocations=0), observation(stats()))
    assert decision.actions == (StopDeployment(deployment_id=MODEL, force=False),)
    assert summary(decision)[:3] == ("False", "ScalingToZero", "True")


def test_once_gone_it_is_ready_as_scaled_to_zero() -> None:
    decision = run(spec(numberOfAllocations=0), observation(snapshot=ClusterSnapshot(model_ids=frozenset({MODEL}))))
    assert decision.actions == ()
    assert summary(decision) == ("True", "ScaledToZero", "False", "False", "NotStalled")
    assert "allocations" not in decision.status  # ALLOCATED is blank: there is no deployment


def test_a_stop_under_way_is_awaited() -> None:
    decision = run(spec(numberOfAllocations=0), observation(stats(state="stopping")))
    assert decision.actions == ()
    assert summary(decision)[:3] == ("False", "ScaledToZero", "True")


def test_right_after_the_stop_an_older_poll_is_not_trusted() -> None:
    recent = RecentAction("stop", NOW - timedelta(seconds=1), None)
    decision = run(spec(numberOfAllocations=0), observation(stats(), recent=recent))
    assert decision.actions == ()
    assert summary(decision)[:2] == ("Unknown", "AwaitingObservation")


def test_paused_changes_nothing() -> None:
    decision = run(spec(numberOfAllocations=0, paused=True), observation(stats()))
    assert decision.actions == ()
    assert summary(decision)[:2] == ("False", "AllocationsDiffer")


def test_scaling_back_up_starts_it_with_the_spec() -> None:
    decision = run(spec(numberOfAllocations=2), observation(snapshot=ClusterSnapshot(model_ids=frozenset({MODEL}))))
    (action,) = decision.actions
    assert isinstance(action, StartDeployment) and action.number_of_allocations == 2


def test_with_adaptive_allocations_zero_is_ignored_and_elasticsearch_owns_the_count() -> None:
    running = stats(adaptive_allocations=adaptive())
    decision = run(spec(numberOfAllocations=0, adaptiveAllocations=ADAPTIVE_SPEC), observation(running))
    assert decision.actions == ()
    assert summary(decision)[:2] == ("True", "FullyAllocated")
