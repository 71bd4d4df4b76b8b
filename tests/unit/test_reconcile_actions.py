"""decide_deletion, action_event."""

from __future__ import annotations

from typing import Any

import pytest

from esml_operator.elasticsearch import errors as es
from esml_operator.elasticsearch.models import AdaptiveAllocations
from esml_operator.reconcile import (
    Event,
    StartDeployment,
    StopDeployment,
    UpdateDeployment,
    action_event,
    decide_deletion,
)
from tests.unit.reconcile_helpers import MODEL, adaptive, assignment, observation, spec, stats


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
    assert decide_deletion(raw, obs) == expected


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
