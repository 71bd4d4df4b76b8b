"""Conditions change only when their verdict changes (hypothesis).

A pure model of the runtime drives ``decide`` and ``settle`` pass after pass,
as the reconciler does: each pass decides on the latest poll; a planned action
is refused by Elasticsearch with the same error every time and the settled
status is what gets written; the next pass comes when the decision asks for it
(or at the resync), with a poll from a cadence of its own, so a pass may see a
poll older than the last refusal. Each refusal draws a new jitter, as the
runtime does.

Over such runs of identical outcomes, no condition goes back to a status and
reason it had already left (issue 17: a capacity refusal of ``_start`` made
``Stalled`` alternate False/True, which resets a ``for: 10m`` alert each time).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from esml_operator.elasticsearch import errors as es
from esml_operator.reconcile import ActionFailure, Failed, decide, parse_or_error, settle
from tests.unit.reconcile_helpers import NOW, REF, RESYNC, allocation, observation, spec, stats

CAPACITY_START = es.TooManyRequestsError(
    "Could not start deployment because there are not enough resources to provide all requested allocations",
    status=429,
    error_type="status_exception",
)
CAPACITY_UPDATE = es.TooManyRequestsError(
    "Could not update deployment because there are not enough resources", status=429, error_type="status_exception"
)
INVALID = es.BadRequestError("Validation Failed: 1: x;", status=400, error_type="action_request_validation_exception")
BUSY = es.ServerError("node failed", status=500, error_type="status_exception")

#: (spec, deployments in Elasticsearch) for a start and for an update of a started deployment.
SCENARIOS: dict[str, tuple[dict[str, Any], tuple[Any, ...]]] = {
    "start": (spec(numberOfAllocations=2), ()),
    "update": (spec(numberOfAllocations=4), (stats(),)),
    "update-while-allocating": (spec(numberOfAllocations=4), (stats(allocation_status=allocation(1, 2)),)),
}


@dataclass(frozen=True)
class Run:
    scenario: str
    error: es.ElasticsearchError
    retry_after: float | None
    poll_every: float  # seconds between polls (the snapshot a pass sees is the last one)
    call_seconds: float  # how long Elasticsearch takes to refuse
    jitters: tuple[float, ...]  # one per refusal, in turn


@st.composite
def runs(draw: st.DrawFn) -> Run:
    scenario = draw(st.sampled_from(sorted(SCENARIOS)))
    kind = draw(st.sampled_from(["capacity", "permanent", "temporary"]))
    error = {"capacity": CAPACITY_UPDATE if "update" in scenario else CAPACITY_START, "permanent": INVALID}.get(
        kind, BUSY
    )
    retry_after = draw(st.none() | st.floats(min_value=0.5, max_value=120.0))
    if retry_after is not None:
        error = type(error)(error.message, status=error.status, error_type=error.error_type, retry_after=retry_after)
    return Run(
        scenario=scenario,
        error=error,
        retry_after=retry_after,
        poll_every=draw(st.floats(min_value=0.5, max_value=RESYNC)),
        call_seconds=draw(st.floats(min_value=0.0, max_value=30.0)),
        jitters=tuple(draw(st.lists(st.floats(min_value=0.0, max_value=0.999), min_size=1, max_size=8))),
    )


def passes(run: Run, count: int = 40) -> list[dict[str, tuple[str, str]]]:
    """The conditions (type -> (status, reason)) written by ``count`` consecutive passes."""
    raw, deployments = SCENARIOS[run.scenario]
    previous: Mapping[str, Any] | None = None
    failure: ActionFailure | None = None
    now, refusals, written = NOW, 0, []
    jitter = run.jitters[0]
    for _ in range(count):
        offset = (now - NOW).total_seconds()
        snapshot_at = NOW + timedelta(seconds=offset - offset % run.poll_every) - timedelta(seconds=0.1)
        obs = observation(*deployments, snapshot_at=snapshot_at, last_failure=failure)
        decision = decide(parse_or_error(raw), REF, obs, previous, now, resync_interval=RESYNC, jitter=jitter)
        for action in decision.actions:
            refused_at = now + timedelta(seconds=run.call_seconds)
            attempts = failure.attempts + 1 if failure is not None else 1
            failure = ActionFailure(action.kind, run.error, refused_at, attempts, REF.generation)
            refusals += 1
            jitter = run.jitters[refusals % len(run.jitters)]
            decision = settle(decision, Failed(failure), refused_at, follow_up=1.0)
            now = refused_at
        previous = decision.status
        written.append({c["type"]: (c["status"], c["reason"]) for c in decision.status["conditions"]})
        wait = RESYNC if decision.requeue_after is None else decision.requeue_after
        now += timedelta(seconds=max(wait, 0.01))
    return written


def flips(values: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """The values a sequence returns to after having left them."""
    seen: list[tuple[str, str]] = []
    back = []
    for value in values:
        if seen and value == seen[-1]:
            continue
        if value in seen:
            back.append(value)
        seen.append(value)
    return back


@settings(
    max_examples=150, derandomize=True, database=None, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
@given(runs())
def test_repeated_identical_refusals_never_flip_a_condition_back(run: Run) -> None:
    written = passes(run)
    for kind in ("Ready", "Reconciling", "Stalled", "ElasticsearchReachable"):
        sequence = [item[kind] for item in written]
        assert not flips(sequence), (kind, sequence)


def test_a_capacity_refused_start_stays_stalled_through_its_retries() -> None:
    """The report's case: ``_start`` refused with 429 for lack of ML capacity, retried with back-off."""
    run = Run("start", CAPACITY_START, None, poll_every=10.0, call_seconds=0.05, jitters=(0.5, 0.1, 0.9))
    written = passes(run, count=30)
    assert {item["Stalled"] for item in written} == {("True", "status_exception")}
    assert {item["Reconciling"] for item in written} == {("False", "Stalled")}
    assert {item["Ready"] for item in written} == {("False", "status_exception")}


def test_flips_finds_a_return() -> None:
    assert flips([("False", "A"), ("True", "B"), ("True", "B"), ("False", "A")]) == [("False", "A")]
    assert flips([("False", "A"), ("True", "B"), ("True", "C")]) == []
