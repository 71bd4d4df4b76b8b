"""An action's outcome, decided purely: the status, events and requeue once Elasticsearch has answered.

``decide`` runs once per pass and plans at most one action. The handler sends
it and hands the outcome here:

* success: ``lastUpdateTime`` is recorded, the action's event is added, and
  the next look comes after ``follow_up`` seconds (the change is verified by
  a poll newer than it);
* failure: the pass is decided again with the failure as its last failure (the
  observed fields stay as decided), so the status written now is the one the
  next pass will find, and a condition does not flip between the two.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from esml_operator.elasticsearch.models import Assignment

from .conditions import Verdict
from .decide import decide, reachability, render_conditions
from .events import action_event
from .model import Action, ActionFailure, Decision, Observation
from .spec import ModelDeploymentSpec
from .status import with_action_applied
from .timeutil import as_utc


@dataclass(frozen=True)
class Succeeded:
    action: Action
    assignment: Assignment | None


@dataclass(frozen=True)
class Failed:
    failure: ActionFailure


Outcome = Succeeded | Failed


def settle(decision: Decision, outcome: Outcome, now: datetime, *, follow_up: float) -> Decision:
    """The decision as it stands once ``outcome`` is known."""
    context = decision.settle
    if context is None:
        raise ValueError("settle() needs a decision that planned an action")
    now = as_utc(now)
    if isinstance(outcome, Succeeded):
        requeue = follow_up if decision.requeue_after is None else min(decision.requeue_after, follow_up)
        return replace(
            decision,
            status=with_action_applied(decision.status, now),
            events=(*decision.events, action_event(outcome.action, outcome.assignment)),
            requeue_after=requeue,
        )
    failed = replace(context.observation, last_failure=outcome.failure)
    again = decide(
        context.spec,
        context.ref,
        failed,
        context.previous_status,
        now,
        resync_interval=context.resync_interval,
        jitter=context.jitter,
    )
    return replace(decision, status=again.status, events=again.events, requeue_after=again.requeue_after)


DELETION_BLOCKED = "DeletionBlocked"


def deletion_blocked(
    previous_status: Mapping[str, Any],
    spec: ModelDeploymentSpec,
    observation: Observation,
    now: datetime,
    generation: int,
) -> dict[str, Any]:
    """The status of a resource whose deletion waits for Elasticsearch: Ready says why and names the ways out.

    ``observation`` is the deletion pass's own, with the problem that blocks it (a failed ``_stop`` as its
    ``fetch_error``): ``ElasticsearchReachable`` follows it, not an earlier pass."""
    problem = observation.fetch_error or observation.config_problem
    detail = problem.message if problem is not None else "Elasticsearch has not been contacted yet"
    message = (
        f"Deletion waits to stop deployment [{spec.deployment_id}] (deletionPolicy: Stop): {detail}. To delete "
        "without stopping it, set spec.paused: true or annotate the resource esml.io/skip-stop=true"
    )
    verdict = Verdict()
    verdict.not_ready(DELETION_BLOCKED, message, warning=True)
    verdict.progressing(DELETION_BLOCKED, "Retrying the stop with back-off")
    conditions, _ = render_conditions(verdict, previous_status, now, generation, False, reachability(observation))
    return {**previous_status, "conditions": conditions}
