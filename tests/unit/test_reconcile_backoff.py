"""decide(): back-off after failed actions, Retry-After, permanent failures, stale snapshots."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from esml_operator.elasticsearch import errors as es
from esml_operator.elasticsearch.models import ClusterSnapshot
from esml_operator.reconcile import UpdateDeployment, backoff_seconds
from tests.unit.reconcile_helpers import (
    MODEL,
    NOW,
    SNAPSHOT_AT,
    allocation,
    cond,
    failure,
    observation,
    run,
    spec,
    stats,
    summary,
)


def api(cls: type[es.ElasticsearchError], status: int | None, error_type: str | None, reason: str, **kw: Any) -> Any:
    return cls(reason, status=status, error_type=error_type, reason=reason, **kw)


# --- back-off ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("attempts", "jitter", "seconds"),
    [
        (1, 0.0, 0.0),
        (1, 0.5, 0.5),
        (2, 0.5, 1.0),
        (3, 0.25, 1.0),
        (5, 1.0, 16.0),
        (9, 0.5, 128.0),
        (10, 0.5, 150.0),
        (40, 0.999, 299.7),
    ],
)
def test_backoff_seconds(attempts: int, jitter: float, seconds: float) -> None:
    assert backoff_seconds(attempts, jitter) == pytest.approx(seconds)


CONFLICT = api(es.ConflictError, 409, "status_exception", "cannot update deployment that is not in [started] state")


def _update_failure_obs(
    error: es.ElasticsearchError, seconds_ago: float, attempts: int, snapshot_delta: float = 0.0
) -> Any:
    return observation(
        stats(),
        last_failure=failure(error, "update", seconds_ago=seconds_ago, attempts=attempts),
        snapshot_at=NOW - timedelta(seconds=snapshot_delta),
    )


def test_temporary_failure_backs_off_then_retries() -> None:
    raw = spec(numberOfAllocations=4)
    # attempt 4: window 8 s, jitter 0.5 -> retry 4 s after the failure
    blocked = run(raw, _update_failure_obs(CONFLICT, seconds_ago=3, attempts=4), jitter=0.5)
    assert blocked.actions == ()
    assert blocked.requeue_after == pytest.approx(1.0)
    assert cond(blocked, "Reconciling")["reason"] == "ProgressingWithRetry"
    assert cond(blocked, "Reconciling")["message"] == "Backing off after 4 failed attempt(s)"
    due = run(raw, _update_failure_obs(CONFLICT, seconds_ago=5, attempts=4), jitter=0.5, previous=blocked.status)
    assert due.actions == (UpdateDeployment(MODEL, 4, None, False, from_number_of_allocations=2),)
    assert cond(due, "Reconciling")["message"] == "Retrying after 4 failed attempt(s)"
    # Ready keeps the failure while retrying: no second Warning event for the same failure
    assert cond(due, "Ready")["reason"] == "status_exception"
    assert due.events == ()


def test_retry_after_is_never_undercut() -> None:
    error = api(es.TooManyRequestsError, 429, None, "rate limited", retry_after=30.0)
    raw = spec(numberOfAllocations=4)
    blocked = run(raw, _update_failure_obs(error, seconds_ago=10, attempts=1), jitter=0.9)
    assert blocked.actions == ()
    assert blocked.requeue_after == pytest.approx(20.0)
    assert run(raw, _update_failure_obs(error, seconds_ago=31, attempts=1), jitter=0.9).actions != ()


def test_backoff_larger_than_retry_after_wins() -> None:
    error = api(es.ServerError, 503, None, "unavailable", retry_after=2.0)
    blocked = run(spec(numberOfAllocations=4), _update_failure_obs(error, seconds_ago=10, attempts=6), jitter=0.5)
    assert blocked.requeue_after == pytest.approx(6.0)  # window 32 s x 0.5 = 16 s


def test_permanent_failure_waits_one_resync_interval() -> None:
    error = api(es.AuthorizationError, 403, "security_exception", "unauthorized")
    raw = spec(numberOfAllocations=4)
    blocked = run(raw, _update_failure_obs(error, seconds_ago=100, attempts=1), resync=300.0, jitter=0.0)
    assert blocked.actions == ()
    assert blocked.requeue_after == pytest.approx(200.0)
    assert summary(blocked)[3:] == ("True", "security_exception")
    retried = run(raw, _update_failure_obs(error, seconds_ago=301, attempts=1), resync=300.0, jitter=0.0)
    assert [action.kind for action in retried.actions] == ["update"]


def test_requeue_not_reported_when_resync_comes_first() -> None:
    blocked = run(
        spec(numberOfAllocations=4), _update_failure_obs(CONFLICT, seconds_ago=1, attempts=12), jitter=0.9, resync=60.0
    )
    assert blocked.actions == ()
    assert blocked.requeue_after is None  # 270 s back-off > 60 s resync


def test_failure_of_an_older_generation_is_ignored() -> None:
    error = api(es.BadRequestError, 400, "status_exception", "bad")
    obs = observation(stats(), last_failure=failure(error, "update", seconds_ago=1, generation=2))
    decision = run(spec(numberOfAllocations=4), obs)
    assert [action.kind for action in decision.actions] == ["update"]
    assert cond(decision, "Ready")["reason"] == "AllocationsDiffer"


def test_failure_of_another_action_is_ignored() -> None:
    error = api(es.NotFoundError, 404, "resource_not_found_exception", "No known model deployment with id [m]")
    obs = observation(last_failure=failure(error, "update", seconds_ago=1, attempts=5))
    decision = run(spec(), obs)
    assert [action.kind for action in decision.actions] == ["start"]
    assert cond(decision, "Ready")["reason"] == "DeploymentNotFound"


def test_failure_is_not_reported_once_elasticsearch_converged() -> None:
    obs = observation(stats(), last_failure=failure(CONFLICT, "update", seconds_ago=1, attempts=5))
    assert summary(run(spec(), obs)) == ("True", "FullyAllocated", "False", "False", "NotStalled")


def test_capacity_failure_retries_with_backoff_while_stalled() -> None:
    error = api(es.TooManyRequestsError, 429, "status_exception", "not enough resources")
    raw = spec(numberOfAllocations=8)
    blocked = run(raw, _update_failure_obs(error, seconds_ago=10, attempts=9), jitter=0.5)
    assert blocked.actions == ()
    assert summary(blocked)[2:] == ("False", "True", "status_exception")
    assert blocked.requeue_after == pytest.approx(118.0)
    retried = run(raw, _update_failure_obs(error, seconds_ago=200, attempts=9), jitter=0.5, previous=blocked.status)
    assert [action.kind for action in retried.actions] == ["update"]
    assert summary(retried)[2:] == ("True", "False", "NotStalled")
    assert retried.events == ()


def test_retry_waits_for_an_observation_newer_than_the_failure() -> None:
    # 408 on start: the deployment is kept and keeps starting, but the snapshot predates the failure
    error = api(es.RequestTimeoutError, 408, "model_deployment_timeout_exception", "Timed out")
    obs = observation(
        last_failure=failure(error, "start", seconds_ago=3, attempts=1), snapshot_at=NOW - timedelta(seconds=4)
    )
    decision = run(spec(), obs, jitter=0.0)
    assert decision.actions == ()
    reconciling = cond(decision, "Reconciling")  # still retrying: the reason of the back-off, not a new one
    assert (reconciling["reason"], reconciling["message"]) == (
        "ProgressingWithRetry",
        "Waiting for an Elasticsearch poll newer than the failed attempt before retrying",
    )
    assert decision.requeue_after == 1.0  # a poll newer than the failure is due within a second
    fresh = observation(
        stats(state="starting", allocation_status=allocation(0, 2)),
        last_failure=failure(error, "start", seconds_ago=3, attempts=1),
        snapshot_at=NOW,
    )
    decision = run(spec(), fresh, jitter=0.0)
    assert decision.actions == ()
    assert summary(decision) == ("False", "Starting", "True", "False", "NotStalled")


@pytest.mark.parametrize(
    ("last_update", "snapshot_at", "acts"),
    [
        ("2026-11-25T09:59:58Z", NOW - timedelta(seconds=5), False),  # snapshot before the last change
        ("2026-11-25T09:59:55Z", NOW - timedelta(seconds=5), False),  # same second: not provably after
        ("2026-11-25T09:59:54Z", NOW - timedelta(seconds=5), True),
        ("garbage", NOW - timedelta(seconds=5), True),
        (None, NOW - timedelta(seconds=5), True),
    ],
)
def test_no_action_on_a_snapshot_older_than_the_last_change(
    last_update: str | None, snapshot_at: Any, acts: bool
) -> None:
    previous = {"lastUpdateTime": last_update} if last_update else None
    decision = run(spec(numberOfAllocations=4), observation(stats(), snapshot_at=snapshot_at), previous)
    assert bool(decision.actions) is acts
    if not acts:
        assert cond(decision, "Reconciling")["reason"] == "AwaitingObservation"
        assert decision.requeue_after == 1.0


def test_start_is_not_repeated_on_a_snapshot_taken_before_it() -> None:
    previous = {"lastUpdateTime": "2026-11-25T09:59:58Z"}
    decision = run(spec(), observation(snapshot_at=SNAPSHOT_AT), previous)
    assert decision.actions == ()
    assert decision.status["lastUpdateTime"] == "2026-11-25T09:59:58Z"


def test_empty_snapshot_still_counts_as_observed() -> None:
    decision = run(obs=observation(snapshot=ClusterSnapshot()))
    assert summary(decision) == ("False", "ModelNotFound", "False", "True", "ModelNotFound")


# --- a failed poll ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("failed_polls", "jitter", "seconds"),
    [(0, 0.5, 0.5), (1, 0.5, 1.0), (3, 0.25, 2.0), (7, 0.9, 115.2)],
)
def test_a_failed_poll_is_retried_with_backoff(failed_polls: int, jitter: float, seconds: float) -> None:
    """An unreachable cluster (no Retry-After) comes back after the back-off of its consecutive failures,
    not at the resync interval."""
    refused = es.ConnectionFailedError("connection refused")
    obs = observation(snapshot=None, fetch_error=refused, failed_polls=failed_polls)
    decision = run(obs=obs, jitter=jitter)
    assert decision.requeue_after == pytest.approx(seconds)
    assert decision.requeue_after == pytest.approx(backoff_seconds(failed_polls + 1, jitter))
    assert cond(decision, "Reconciling")["reason"] == "ProgressingWithRetry"


def test_a_failed_polls_backoff_beyond_the_resync_interval_leaves_it_to_the_resync_loop() -> None:
    obs = observation(snapshot=None, fetch_error=es.TransportTimeoutError("read timed out"), failed_polls=20)
    assert run(obs=obs, jitter=0.9, resync=60.0).requeue_after is None  # 270 s of back-off: the resync comes first


def test_a_failed_polls_retry_after_is_a_floor_for_its_backoff() -> None:
    slow = api(es.TooManyRequestsError, 429, None, "slow down", retry_after=3.0)
    assert run(obs=observation(snapshot=None, fetch_error=slow), jitter=0.5).requeue_after == 3.0
    later = observation(snapshot=None, fetch_error=slow, failed_polls=4)  # 16 s window, half of it
    assert run(obs=later, jitter=0.5).requeue_after == 8.0


def test_a_refused_poll_is_stalled_and_waits_for_the_resync() -> None:
    refused = api(es.AuthenticationError, 401, "security_exception", "unable to authenticate user [elastic]")
    decision = run(obs=observation(snapshot=None, fetch_error=refused, failed_polls=2))
    assert decision.requeue_after is None
    assert summary(decision)[2:] == ("False", "True", "security_exception")
