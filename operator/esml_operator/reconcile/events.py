"""The Normal event recorded after an action succeeded."""

from __future__ import annotations

from esml_operator.elasticsearch.models import Assignment

from .model import Action, Event, StartDeployment, StopDeployment, UpdateDeployment, UpdateInferenceEndpoint
from .plan import describe_adaptive, describe_update


def _state(assignment: Assignment | None) -> str:
    if assignment is None:
        return ""
    return f"; assignment state {assignment.assignment_state}"


def action_event(action: Action, assignment_or_none: Assignment | None) -> Event:
    """E.g. ``Updated deployment [x] number_of_allocations 1 -> 4``."""
    if isinstance(action, StartDeployment):
        if action.adaptive is not None:
            sizing = f"adaptive allocations {describe_adaptive(action.adaptive)}"
        else:
            sizing = f"number_of_allocations {action.number_of_allocations}"
        if action.threads_per_allocation is not None:
            sizing += f", threads_per_allocation {action.threads_per_allocation}"
        return Event(
            "Normal",
            "DeploymentStarted",
            f"Started deployment [{action.deployment_id}] of model [{action.model_id}] with {sizing}"
            f"{_state(assignment_or_none)}",
        )
    if isinstance(action, UpdateDeployment):
        change = describe_update(action) or "settings"
        return Event(
            "Normal",
            "DeploymentUpdated",
            f"Updated deployment [{action.deployment_id}] {change}{_state(assignment_or_none)}",
        )
    if isinstance(action, UpdateInferenceEndpoint):
        change = describe_update(action.update) or "settings"
        return Event(
            "Normal",
            "DeploymentUpdated",
            f"Updated deployment [{action.deployment_id}] through inference endpoint [{action.inference_id}] "
            f"({action.task_type}): {change}",
        )
    if isinstance(action, StopDeployment):
        if action.restart_for:
            return Event(
                "Normal",
                "DeploymentRestarting",
                f"Stopped deployment [{action.deployment_id}] to start it again with {action.restart_for}",
            )
        forced = " (forced)" if action.force else ""
        return Event("Normal", "DeploymentStopped", f"Stopped deployment [{action.deployment_id}]{forced}")
    raise TypeError(f"not an action: {action!r}")
