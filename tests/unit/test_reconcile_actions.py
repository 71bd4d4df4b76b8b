"""decide_deletion, deletion_blocked, action_event."""

from __future__ import annotations

from typing import Any

import pytest

from esml_operator.elasticsearch import errors as es
from esml_operator.elasticsearch.models import AdaptiveAllocations
from esml_operator.reconcile import (
    ConfigProblem,
    Event,
    StartDeployment,
    StopDeployment,
    UpdateDeployment,
    action_event,
    decide_deletion,
    deletion_blocked,
    parse_or_error,
    parse_spec,
)
from tests.unit.reconcile_helpers import MODEL, NOW, adaptive, assignment, observation, run, spec, stats


@pytest.mark.parametrize(
    ("raw", "obs", "expected"),
    [
        (spec(deletionPolicy="Stop"), observation(stats()), (StopDeployment(MODEL),)),
        (spec(deletionPolicy="Stop", deploymentId="d"), observation(stats(deployment_id="d")), (StopDeployment("d"),)),
        (spec(deletionPolicy="Stop"), observation(), ()),
        (spec(deletionPolicy="Stop"), observation(last_assignment=assignment(2, {})), (StopDeployment(MODEL),)),
        (spec(deletionPolicy="Stop"), observation(snapshot=None), (StopDeployment(MODEL),)),
        (
            spec(deletionPolicy="Stop"),
            observation(stats(), fetch_error=es.ConnectionFailedError("x")),
            (StopDeployment(MODEL),),
        ),
        (spec(deletionPolicy="Stop"), observation(stats(model_id="other")), ()),
        (spec(deletionPolicy="Stop", paused=True), observation(stats()), ()),
        (spec(deletionPolicy="Retain"), observation(stats()), ()),
        (spec(), observation(stats()), ()),
        (spec(deletionPolicy="Stop", modelId="BAD"), observation(stats()), ()),
    ],
)
def test_decide_deletion(raw: Any, obs: Any, expected: tuple[Any, ...]) -> None:
    assert decide_deletion(parse_or_error(raw), obs) == expected


@pytest.mark.parametrize(
    ("action", "with_assignment", "expected"),
    [
        (
            UpdateDeployment(MODEL, 4, None, False, from_number_of_allocations=1),
            False,
            Event("Normal", "DeploymentUpdated", "Updated deployment [my-model] number_of_allocations 1 -> 4"),
        ),
        (
            UpdateDeployment(MODEL, 4, None, False, from_number_of_allocations=1),
            True,
            Event(
                "Normal",
                "DeploymentUpdated",
                "Updated deployment [my-model] number_of_allocations 1 -> 4; assignment state started",
            ),
        ),
        (
            UpdateDeployment(MODEL, None, adaptive(), True, 2, None),
            False,
            Event(
                "Normal",
                "DeploymentUpdated",
                "Updated deployment [my-model] adaptive_allocations none -> enabled (min 0, max 4)",
            ),
        ),
        (
            UpdateDeployment(MODEL, 3, AdaptiveAllocations(False), True, 2, adaptive()),
            False,
            Event(
                "Normal",
                "DeploymentUpdated",
                "Updated deployment [my-model] number_of_allocations 2 -> 3, "
                "adaptive_allocations enabled (min 0, max 4) -> disabled",
            ),
        ),
        (
            StartDeployment(MODEL, "search", 2, 4, None, None, None, None),
            True,
            Event(
                "Normal",
                "DeploymentStarted",
                "Started deployment [search] of model [my-model] with number_of_allocations 2, "
                "threads_per_allocation 4; assignment state started",
            ),
        ),
        (
            StartDeployment(MODEL, MODEL, None, None, None, None, None, adaptive(True, 1, None)),
            False,
            Event(
                "Normal",
                "DeploymentStarted",
                "Started deployment [my-model] of model [my-model] with adaptive allocations enabled (min 1)",
            ),
        ),
        (StopDeployment(MODEL), False, Event("Normal", "DeploymentStopped", "Stopped deployment [my-model]")),
        (
            StopDeployment(MODEL, force=True),
            False,
            Event("Normal", "DeploymentStopped", "Stopped deployment [my-model] (forced)"),
        ),
    ],
)
def test_action_event(action: Any, with_assignment: bool, expected: Event) -> None:
    result = assignment(4, {"node-a": (4, 4)}) if with_assignment else None
    assert action_event(action, result) == expected


def test_action_event_rejects_non_actions() -> None:
    with pytest.raises(TypeError):
        action_event("start", None)  # type: ignore[arg-type]


def _blocked(obs: Any) -> dict[str, dict[str, Any]]:
    """The conditions of a blocked deletion, after a status that said Ready and Connected."""
    previous = run(spec(deletionPolicy="Stop")).status
    assert {c["type"]: c["reason"] for c in previous["conditions"]}["ElasticsearchReachable"] == "Connected"
    parsed = parse_spec(spec(deletionPolicy="Stop"))
    status = deletion_blocked(previous, parsed, obs, NOW, 3)
    return {c["type"]: c for c in status["conditions"]}


def test_a_deletion_blocked_by_a_timeout_reports_elasticsearch_unreachable() -> None:
    """Issue 17 item 4: ElasticsearchReachable follows the deletion pass's own observation, not the last pass's."""
    found = _blocked(observation(snapshot=None, fetch_error=es.TransportTimeoutError("read timed out")))
    assert (found["Ready"]["status"], found["Ready"]["reason"]) == ("False", "DeletionBlocked")
    assert "read timed out" in found["Ready"]["message"]
    reachable = found["ElasticsearchReachable"]
    assert (reachable["status"], reachable["reason"]) == ("False", "TransportTimeoutError")
    assert reachable["message"] == "read timed out"


def test_a_deletion_blocked_by_a_refused_stop_reports_that_elasticsearch_answered() -> None:
    refusal = es.ConflictError("referenced by ingest pipelines", status=409, error_type="status_exception")
    found = _blocked(observation(stats(), fetch_error=refusal))
    assert (found["ElasticsearchReachable"]["status"], found["ElasticsearchReachable"]["reason"]) == (
        "True",
        "Answered",
    )


def test_a_deletion_blocked_by_a_configuration_problem_reports_that_nothing_was_contacted() -> None:
    problem = ConfigProblem("SecretNotFound", "Secret ns/creds not found")
    found = _blocked(observation(snapshot=None, version=None, config_problem=problem))
    reachable = found["ElasticsearchReachable"]
    assert (reachable["status"], reachable["reason"]) == ("Unknown", "SecretNotFound")
