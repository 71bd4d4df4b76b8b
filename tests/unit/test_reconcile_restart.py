"""restartPolicy: OnParameterChange stops a deployment whose start-time parameters differ, then starts it."""

from __future__ import annotations

from datetime import timedelta

import pytest

from esml_operator.elasticsearch.models import ClusterSnapshot
from esml_operator.reconcile import RecentAction, StartDeployment, StopDeployment, action_event
from tests.unit.reconcile_helpers import MODEL, NOW, cond, observation, run, spec, stats, summary


def test_never_is_the_default_and_only_reports() -> None:
    decision = run(spec(threadsPerAllocation=2), observation(stats()))
    assert decision.actions == ()
    assert summary(decision)[1] == "StartParametersDiffer"


def test_on_parameter_change_stops_the_deployment_with_an_explaining_event() -> None:
    decision = run(spec(threadsPerAllocation=2, restartPolicy="OnParameterChange"), observation(stats()))
    (action,) = decision.actions
    assert action == StopDeployment(deployment_id=MODEL, force=False, restart_for="threadsPerAllocation 2 (running: 1)")
    assert summary(decision)[:3] == ("False", "Restarting", "True")
    assert "restartPolicy: OnParameterChange" in cond(decision, "Ready")["message"]
    event = action_event(action, None)
    assert event.reason == "DeploymentRestarting"
    assert "threadsPerAllocation 2 (running: 1)" in event.message


def test_then_it_is_started_with_the_new_parameters() -> None:
    after_stop = RecentAction("stop", NOW - timedelta(seconds=10), None)  # older than the poll below
    gone = observation(snapshot=ClusterSnapshot(model_ids=frozenset({MODEL})), snapshot_at=NOW, recent=after_stop)
    (action,) = run(spec(threadsPerAllocation=2, restartPolicy="OnParameterChange"), gone).actions
    assert isinstance(action, StartDeployment) and action.threads_per_allocation == 2


@pytest.mark.parametrize("extra", [{"paused": True}, {"startPolicy": "Never"}])
def test_not_while_paused_nor_when_it_could_not_be_started_again(extra: dict[str, object]) -> None:
    raw = spec(threadsPerAllocation=2, restartPolicy="OnParameterChange", **extra)
    assert run(raw, observation(stats())).actions == ()


def test_matching_parameters_change_nothing() -> None:
    decision = run(spec(restartPolicy="OnParameterChange"), observation(stats()))
    assert decision.actions == ()
    assert summary(decision)[:2] == ("True", "FullyAllocated")


def test_a_start_parameter_difference_points_to_restart_policy() -> None:
    """Issue 17 item 10: the message names the setting that exists for exactly this."""
    decision = run(spec(threadsPerAllocation=2), observation(stats()))
    message = cond(decision, "Stalled")["message"]
    assert "set restartPolicy: OnParameterChange" in message, message
    assert cond(decision, "Ready")["message"] == message


@pytest.mark.parametrize(
    ("extra", "hint"),
    [
        ({"paused": True}, "restartPolicy: OnParameterChange restarts it once spec.paused is false"),
        ({"startPolicy": "Never"}, "restartPolicy: OnParameterChange needs startPolicy: IfMissing"),
    ],
)
def test_when_restart_policy_cannot_act_the_message_says_why(extra: dict[str, object], hint: str) -> None:
    raw = spec(threadsPerAllocation=2, restartPolicy="OnParameterChange", **extra)
    message = cond(run(raw, observation(stats())), "Ready")["message"]
    assert hint in message, message
    assert "set restartPolicy" not in message
