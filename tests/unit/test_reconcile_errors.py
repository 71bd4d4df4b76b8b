"""decide(): connection problems, action failures (fact sheet §6.2), back-off, staleness."""

from __future__ import annotations

from typing import Any

import pytest

from esml_operator.elasticsearch import errors as es
from esml_operator.reconcile import ConfigProblem, advise
from tests.unit.reconcile_helpers import (
    NOW,
    RESYNC,
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


# --- fetching / connecting -------------------------------------------------------------------------------

FETCH_ERRORS = [
    # error, expected reason, stalled?
    (es.ConnectionFailedError("connection refused to https://es:9200"), "ConnectionFailedError", False),
    (es.TransportTimeoutError("read timed out after 10s"), "TransportTimeoutError", False),
    (
        api(es.ServerError, 503, "master_not_discovered_exception", "no master"),
        "master_not_discovered_exception",
        False,
    ),
    (api(es.ServerError, 502, None, "bad gateway"), "ServerError", False),
    (
        api(es.AuthenticationError, 401, "security_exception", "unable to authenticate user [elastic]"),
        "security_exception",
        True,
    ),
    (
        api(
            es.AuthorizationError,
            403,
            "security_exception",
            "action [cluster:monitor/xpack/ml/inference/stats/get] is unauthorized",
        ),
        "security_exception",
        True,
    ),
    (es.TLSError("certificate verify failed"), "TLSError", True),
    (es.ProductCheckError("the server is not Elasticsearch"), "ProductCheckError", True),
    (es.UnsupportedVersionError("needs 8.6"), "UnsupportedElasticsearchVersion", True),
]


@pytest.mark.parametrize(("error", "reason", "stalled"), FETCH_ERRORS)
def test_fetch_errors(error: es.ElasticsearchError, reason: str, stalled: bool) -> None:
    decision = run(obs=observation(fetch_error=error, snapshot=None))
    assert decision.actions == ()
    ready, reachable = cond(decision, "Ready"), cond(decision, "ElasticsearchReachable")
    assert (ready["status"], ready["reason"], ready["message"]) == (
        "False",
        reason,
        f"Cannot use Elasticsearch: {error.message}",
    )
    if isinstance(error, es.ApiError) and error.status is not None and error.status < 500:
        # Elasticsearch answered (401/403): reachable; Ready and Stalled carry the refusal.
        assert (reachable["status"], reachable["reason"]) == ("True", "Answered")
        assert error.message in reachable["message"]
    else:
        assert (reachable["status"], reachable["reason"], reachable["message"]) == ("False", reason, error.message)
    if stalled:
        assert summary(decision)[2:] == ("False", "True", reason)
    else:
        assert summary(decision)[2:] == ("True", "False", "NotStalled")
        assert cond(decision, "Reconciling")["reason"] == "ProgressingWithRetry"
    assert decision.events[0].type == "Warning" and decision.events[0].reason == reason


def test_fetch_error_honours_retry_after() -> None:
    error = api(es.TooManyRequestsError, 429, None, "slow down", retry_after=42.0)
    assert run(obs=observation(fetch_error=error, snapshot=None)).requeue_after == 42.0


def test_fetch_error_ignores_a_stale_snapshot_and_never_acts() -> None:
    obs = observation(stats(number_of_allocations=9), fetch_error=es.ConnectionFailedError("refused"))
    decision = run(obs=obs)
    assert decision.actions == ()


def test_config_problem_is_stalled_and_reachability_unknown() -> None:
    problem = ConfigProblem("SecretNotFound", "Secret ns/quickstart-es-elastic-user not found")
    decision = run(obs=observation(config_problem=problem, snapshot=None, version=None))
    assert decision.actions == ()
    assert summary(decision) == ("False", "SecretNotFound", "False", "True", "SecretNotFound")
    reachable = cond(decision, "ElasticsearchReachable")
    assert (reachable["status"], reachable["reason"]) == ("Unknown", "SecretNotFound")
    assert reachable["message"] == "Not connecting: Secret ns/quickstart-es-elastic-user not found"


def test_deployment_conflict_says_what_was_and_was_not_checked() -> None:
    """Issue 17 item 4: the cluster was contacted (its identity decides the conflict); the deployment was not."""
    problem = ConfigProblem(
        "DeploymentConflict",
        "deployment [my-model] on this Elasticsearch cluster (https://es.example:9200) is already managed by "
        "ModelDeployment ns/first; give this resource another deploymentId",
    )
    decision = run(obs=observation(config_problem=problem, snapshot=None))
    assert summary(decision) == ("False", "DeploymentConflict", "False", "True", "DeploymentConflict")
    reachable = cond(decision, "ElasticsearchReachable")
    assert (reachable["status"], reachable["reason"]) == ("True", "Connected")
    assert reachable["message"] == (
        "Connected to Elasticsearch 8.16.0 (cluster prod); the deployment was neither polled nor changed: "
        + problem.message
    )
    assert "Not connecting" not in reachable["message"]


def test_not_yet_observed() -> None:
    decision = run(obs=observation(snapshot=None, version=None))
    assert decision.actions == ()
    assert summary(decision) == ("Unknown", "AwaitingObservation", "True", "False", "NotStalled")
    assert cond(decision, "ElasticsearchReachable")["status"] == "Unknown"
    assert decision.requeue_after == 10.0


def test_invalid_spec_is_stalled() -> None:
    decision = run(spec(numberOfAllocations=-1))
    assert decision.actions == ()
    assert summary(decision) == ("False", "InvalidSpec", "False", "True", "InvalidSpec")
    assert cond(decision, "Stalled")["message"] == "Invalid spec: numberOfAllocations must be >= 0, got -1"
    assert decision.status["observedGeneration"] == 3


# --- action failures: fact sheet §6.2 ---------------------------------------------------------------------

# (row, action, error, permanent, stalled) with the failure 1 s ago, attempt 3, jitter 0.5 -> blocked 1 s
CATALOGUE = [
    (
        1,
        "start",
        api(es.BadRequestError, 400, "action_request_validation_exception", "Validation Failed: 1: x;"),
        True,
        True,
    ),
    (
        3,
        "start",
        api(es.NotFoundError, 404, "resource_not_found_exception", "Could not find trained model definition [m]"),
        False,
        False,
    ),
    (4, "start", api(es.BadRequestError, 400, "status_exception", "Model definition truncated"), True, True),
    (
        5,
        "start",
        api(es.BadRequestError, 400, "status_exception", "model [m] of type [tree_ensemble] cannot be deployed"),
        True,
        True,
    ),
    (
        7,
        "start",
        api(es.BadRequestError, 400, "status_exception", "an existing deployment with the same id [m] exist"),
        True,
        True,
    ),
    (
        8,
        "start",
        api(es.BadRequestError, 400, "status_exception", "Deployment id [m] is the same as an another model"),
        True,
        True,
    ),
    (
        9,
        "start",
        api(
            es.ConflictError, 409, "status_exception", "Cannot start deployment [m] because it has already been started"
        ),
        False,
        False,
    ),
    (
        10,
        "start",
        api(es.TooManyRequestsError, 429, "status_exception", "existing deployments reached the limit of [100]"),
        False,
        True,
    ),
    (
        11,
        "start",
        api(es.TooManyRequestsError, 429, "status_exception", "no ML nodes with sufficient capacity were found"),
        False,
        True,
    ),
    (
        12,
        "start",
        api(
            es.TooManyRequestsError,
            429,
            "status_exception",
            "not enough resources to provide all requested allocations",
        ),
        False,
        True,
    ),
    (
        13,
        "start",
        api(es.RequestTimeoutError, 408, "model_deployment_timeout_exception", "Timed out after [30s]"),
        False,
        False,
    ),
    (14, "start", api(es.ServerError, 500, "status_exception", "the following nodes failed with errors"), False, False),
    (15, "start", api(es.BadRequestError, 400, "status_exception", "assignment was removed while waiting"), True, True),
    (
        16,
        "start",
        api(es.AuthorizationError, 403, "status_exception", "while cluster upgrade is in progress."),
        True,
        True,
    ),
    (17, "start", api(es.ConflictError, 409, "status_exception", "while feature reset is in progress"), False, False),
    (
        18,
        "start",
        api(es.AuthorizationError, 403, "security_exception", "current license is non-compliant for [ml]"),
        True,
        True,
    ),
    (19, "start", api(es.RequestTimeoutError, 408, "status_exception", "model download in progress"), False, False),
    (
        21,
        "update",
        api(es.BadRequestError, 400, "action_request_validation_exception", "Validation Failed"),
        True,
        True,
    ),
    (
        22,
        "update",
        api(es.NotFoundError, 404, "resource_not_found_exception", "No known model deployment with id [m]"),
        False,
        False,
    ),
    (
        23,
        "update",
        api(es.BadRequestError, 400, "validation_exception", "cannot be set if adaptive allocations is enabled"),
        True,
        True,
    ),
    (
        24,
        "update",
        api(es.ConflictError, 409, "status_exception", "cannot update deployment that is not in [started] state"),
        False,
        False,
    ),
    (
        25,
        "update",
        api(
            es.TooManyRequestsError,
            429,
            "status_exception",
            "Could not update deployment because there are not enough resources",
        ),
        False,
        True,
    ),
    (
        26,
        "update",
        api(
            es.ConflictError,
            409,
            "status_exception",
            "Cannot update deployment [m] as it was created by inference endpoint [e].",
        ),
        True,
        True,
    ),
    (
        32,
        "update",
        api(es.BadRequestError, 400, "illegal_argument_exception", "contains unrecognized parameter: [x]"),
        True,
        True,
    ),
    (34, "update", api(es.BadRequestError, 400, "parse_exception", "request body is required"), True, True),
    (0, "update", api(es.AuthenticationError, 401, "security_exception", "unable to authenticate user"), True, True),
    (
        0,
        "update",
        api(es.AuthorizationError, 403, "security_exception", "action [..deployment/update] is unauthorized"),
        True,
        True,
    ),
    (0, "update", es.ConnectionFailedError("connection reset"), False, False),
    (0, "update", es.TransportTimeoutError("read timeout"), False, False),
    (0, "start", es.TLSError("certificate verify failed"), True, True),
    (0, "update", es.UnsupportedVersionError("update needs 8.6"), True, True),
]


@pytest.mark.parametrize(("row", "action", "error", "permanent", "stalled"), CATALOGUE)
def test_action_failure_catalogue(
    row: int, action: str, error: es.ElasticsearchError, permanent: bool, stalled: bool
) -> None:
    if action == "start":
        obs = observation(last_failure=failure(error, "start", seconds_ago=1, attempts=3), snapshot_at=NOW)
        raw = spec()
    else:
        obs = observation(stats(), last_failure=failure(error, "update", seconds_ago=1, attempts=3), snapshot_at=NOW)
        raw = spec(numberOfAllocations=4)
    advice = advise(error, attempts=3, action=action, start_policy="IfMissing", resync_interval=RESYNC, jitter=0.5)
    assert advice.permanent is permanent
    decision = run(raw, obs, jitter=0.5)
    assert decision.actions == (), row
    reason = error.error_type or (
        "UnsupportedElasticsearchVersion" if isinstance(error, es.UnsupportedVersionError) else type(error).__name__
    )
    ready = cond(decision, "Ready")
    assert (ready["status"], ready["reason"]) == ("False", reason)
    assert ready["message"] == f"Failed to {action} deployment [my-model]: {error.message}"
    assert cond(decision, "Stalled")["status"] == ("True" if stalled else "False")
    assert cond(decision, "Reconciling")["status"] == ("False" if stalled else "True")
    if permanent:
        assert decision.requeue_after == pytest.approx(299.0)  # one resync interval after the failure
        assert "not retried before 2026-11-25T10:04:59Z unless the spec changes" in cond(decision, "Stalled")["message"]
    else:
        assert decision.requeue_after == pytest.approx(1.0)  # attempt 3: window 4 s x jitter 0.5 = 2 s, 1 s ago
    assert [event.type for event in decision.events] == ["Warning"]
    assert decision.events[0].reason == reason


def test_not_found_on_update_is_permanent_under_start_policy_never() -> None:
    error = api(es.NotFoundError, 404, "resource_not_found_exception", "No known model deployment with id [m]")
    assert advise(error, attempts=1, action="update", start_policy="Never", resync_interval=RESYNC, jitter=0).permanent
    obs = observation(stats(), last_failure=failure(error, "update", seconds_ago=1, attempts=1), snapshot_at=NOW)
    decision = run(spec(numberOfAllocations=4, startPolicy="Never"), obs, jitter=0.0)
    assert decision.actions == ()
    assert summary(decision) == (
        "False",
        "resource_not_found_exception",
        "False",
        "True",
        "resource_not_found_exception",
    )


def test_refused_plain_http_is_not_reported_as_unreachable() -> None:
    error = es.InsecureConnectionError("refusing to send credentials over plain http://")
    decision = run(obs=observation(fetch_error=error, snapshot=None))
    reachable = cond(decision, "ElasticsearchReachable")
    assert reachable["status"] == "Unknown"
    assert reachable["message"].startswith("Not connecting: ")
    assert summary(decision)[3] == "True"  # Stalled: needs a config change
