"""An action's outcome, decided purely: the status, events and requeue once Elasticsearch has answered.

``decide`` runs once per pass and plans at most one action. The handler sends
it and hands the outcome here:

* success: the pass is decided again with Elasticsearch's answer folded into
  its observation (:func:`observed_after`: the assignment ``_start``/``_update``
  returned is the freshest view, as the next pass takes it), ``lastUpdateTime``
  is recorded, the action's event is added, and the next look comes after
  ``follow_up`` seconds (the change is verified by a poll newer than it). An
  answer that already shows the target makes the pass say Ready, and the
  follow-up finds nothing new to write; one that does not (allocations still
  starting) says so, and the follow-up writes Ready. ``_stop`` and an inference
  endpoint's ``_update`` answer with no assignment: the status stays as
  decided until a poll newer than the change;
* failure: the pass is decided again with the failure as its last failure (the
  observed fields stay as decided), so the status written now is the one the
  next pass will find, and a condition does not flip between the two.

Either way the outcome feeds the pure :func:`~.decide.decide`: nothing is decided twice by hand.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from esml_operator.elasticsearch.models import Assignment

from .conditions import READY, Verdict
from .decide import decide, reachability, render_conditions
from .events import action_event
from .model import Action, ActionFailure, Decision, Event, Observation, RecentAction, Settle
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


def observed_after(
    observation: Observation, action: Action, assignment: Assignment | None, at: datetime
) -> Observation | None:
    """``observation`` once Elasticsearch answered ``action`` at ``at`` with ``assignment``: the answer is the
    deployment's freshest view (as :func:`.observed.current_view` takes a change newer than the poll) and the
    action's last failure is over. ``None`` when the answer shows nothing newer than the poll (``_stop``, an
    inference endpoint's ``_update``)."""
    if assignment is None:
        return None
    recent = RecentAction(action.kind, as_utc(at), assignment, action)
    return replace(observation, last_assignment=assignment, last_failure=None, recent=recent)


def settle(decision: Decision, outcome: Outcome, now: datetime, *, follow_up: float) -> Decision:
    """The decision as it stands once ``outcome`` is known."""
    context = decision.settle
    if context is None:
        raise ValueError("settle() needs a decision that planned an action")
    now = as_utc(now)
    if isinstance(outcome, Failed):
        again = _decide_again(context, replace(context.observation, last_failure=outcome.failure), now)
        return replace(decision, status=again.status, events=again.events, requeue_after=again.requeue_after)
    after = observed_after(context.observation, outcome.action, outcome.assignment, now)
    settled = decision if after is None else _decide_again(context, after, now)
    requeue = follow_up if settled.requeue_after is None else min(settled.requeue_after, follow_up)
    return replace(
        decision,
        status=with_action_applied(settled.status, now),
        events=told_once(settled.events, action_event(outcome.action, outcome.assignment)),
        requeue_after=requeue,
    )


def _decide_again(context: Settle, observation: Observation, now: datetime) -> Decision:
    return decide(
        context.spec,
        context.ref,
        observation,
        context.previous_status,
        now,
        resync_interval=context.resync_interval,
        jitter=context.jitter,
    )


def told_once(events: tuple[Event, ...], action: Event) -> tuple[Event, ...]:
    """The pass's events, then the action's. When Ready turned True in the same pass (Elasticsearch's answer
    already showed the target), the action's event says so, instead of a ``Ready`` event of its own that would
    report the same change a second time."""
    ready = next((event for event in events if event.type == "Normal" and event.reason == READY), None)
    if ready is None:
        return (*events, action)
    others = tuple(event for event in events if event is not ready)
    return (*others, replace(action, message=f"{action.message}; Ready: {ready.message}"))


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
