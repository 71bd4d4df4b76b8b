"""Deployments that an inference endpoint created (ELSER, E5, semantic_text): the pure decision.

On 9.2+ the trained-model ``_update`` of such a deployment is a 409, so
changes go through the endpoint's ``_update``; before 9.2 the trained-model
``_update`` is kept. What such a deployment cannot take (other threads, a
restart, zero allocations without adaptive) is refused with a condition and no
call; the operator never starts it, and ``deletionPolicy: Stop`` never stops it.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest

from esml_operator.elasticsearch.models import (
    AdaptiveAllocations,
    ClusterSnapshot,
    InferenceEndpoint,
    InferenceEndpoints,
    InferenceServiceSettings,
)
from esml_operator.reconcile import (
    Observation,
    RecentAction,
    StopDeployment,
    Succeeded,
    UpdateDeployment,
    UpdateInferenceEndpoint,
    decide_deletion,
    deletion_notice,
    ownership,
    parse_or_error,
    settle,
)
from tests.unit.reconcile_helpers import (
    ADAPTIVE_SPEC,
    MODEL,
    NOW,
    SNAPSHOT_AT,
    adaptive,
    allocation,
    cond,
    observation,
    run,
    spec,
    stats,
    summary,
)

ELSER = ".elser_model_2_linux-x86_64"
ENDPOINT = "my-elser"


def endpoint(inference_id: str = ENDPOINT, *, threads: int = 1, **settings: Any) -> InferenceEndpoint:
    values: dict[str, Any] = {"model_id": ELSER, "num_threads": threads, "num_allocations": 2, **settings}
    return InferenceEndpoint(inference_id, "sparse_embedding", "elasticsearch", InferenceServiceSettings(**values))


def elser_spec(**overrides: Any) -> dict[str, Any]:
    return spec(modelId=ELSER, deploymentId=ENDPOINT, **overrides)


def elser_stats(**overrides: Any) -> Any:
    return stats(deployment_id=ENDPOINT, model_id=ELSER, **overrides)


def owned(
    *deployments: Any, version: str = "9.2.0", owner: InferenceEndpoint | None = None, **extra: Any
) -> Observation:
    obs = observation(*deployments, version=version, models=(ELSER,), **extra)
    return replace(obs, inference_endpoint=owner or endpoint())


# -- which call ----------------------------------------------------------------------------------


def test_on_92_a_scale_goes_through_the_endpoints_update() -> None:
    decision = run(elser_spec(numberOfAllocations=4), owned(elser_stats()))
    (action,) = decision.actions
    assert isinstance(action, UpdateInferenceEndpoint)
    assert (action.inference_id, action.task_type, action.deployment_id) == (ENDPOINT, "sparse_embedding", ENDPOINT)
    assert action.update.number_of_allocations == 4 and not action.update.send_adaptive
    assert action.kind == "update"  # failures and the change log treat it as an update
    reconciling = cond(decision, "Reconciling")
    assert reconciling["reason"] == "Updating"
    assert f"through inference endpoint [{ENDPOINT}]" in reconciling["message"]


@pytest.mark.parametrize("version", ["8.16.0", "8.18.3", "9.0.4", "9.1.7"])
def test_before_92_the_trained_model_update_is_kept(version: str) -> None:
    decision = run(elser_spec(numberOfAllocations=4), owned(elser_stats(), version=version))
    (action,) = decision.actions
    assert isinstance(action, UpdateDeployment)
    assert action.number_of_allocations == 4
    assert decision.status["inferenceEndpoint"] == {
        "id": ENDPOINT,
        "taskType": "sparse_embedding",
        "service": "elasticsearch",
    }


def test_a_deployment_that_endpoints_are_only_attached_to_keeps_the_trained_model_update() -> None:
    # Its deployment was started with _start: the inference _update of the attached endpoint is the 409 then.
    obs = replace(observation(stats(), version="9.2.0"), inference_users=("e5-on-search",))
    (action,) = run(spec(numberOfAllocations=4), obs).actions
    assert isinstance(action, UpdateDeployment)
    assert "inferenceEndpoint" not in run(spec(numberOfAllocations=4), obs).status


def test_enabling_adaptive_allocations_sends_only_the_adaptive_settings() -> None:
    decision = run(elser_spec(adaptiveAllocations=ADAPTIVE_SPEC), owned(elser_stats()))
    (action,) = decision.actions
    assert isinstance(action, UpdateInferenceEndpoint)
    assert action.update.send_adaptive and action.update.adaptive == adaptive(True, 0, 4)
    assert action.update.number_of_allocations is None


def test_disabling_adaptive_allocations_sends_the_count_and_enabled_false() -> None:
    running = elser_stats(adaptive_allocations=adaptive(True, 0, 32), number_of_allocations=5)
    (action,) = run(elser_spec(numberOfAllocations=2), owned(running)).actions
    assert isinstance(action, UpdateInferenceEndpoint)
    assert action.update.number_of_allocations == 2
    assert action.update.send_adaptive and action.update.adaptive == AdaptiveAllocations(False)


def test_a_matching_deployment_is_ready_and_names_its_endpoint() -> None:
    decision = run(elser_spec(numberOfAllocations=2), owned(elser_stats()))
    assert decision.actions == ()
    ready = cond(decision, "Ready")
    assert (ready["status"], ready["reason"]) == ("True", "FullyAllocated")
    assert f"of inference endpoint [{ENDPOINT}] (sparse_embedding, service elasticsearch)" in ready["message"]
    assert decision.status["inferenceEndpoint"] == {
        "id": ENDPOINT,
        "taskType": "sparse_embedding",
        "service": "elasticsearch",
    }


def test_the_default_elser_endpoint_can_be_managed() -> None:
    default = endpoint(".elser-2-elasticsearch", num_allocations=1, adaptive_allocations=adaptive(True, 0, 32))
    running = stats(deployment_id=".elser-2-elasticsearch", model_id=ELSER, adaptive_allocations=adaptive(True, 0, 32))
    wanted = {"enabled": True, "minNumberOfAllocations": 1, "maxNumberOfAllocations": 8}
    raw = spec(modelId=ELSER, deploymentId=".elser-2-elasticsearch", adaptiveAllocations=wanted)
    (action,) = run(raw, owned(running, owner=default)).actions
    assert isinstance(action, UpdateInferenceEndpoint) and action.inference_id == ".elser-2-elasticsearch"
    assert action.update.adaptive == adaptive(True, 1, 8)


# -- what an endpoint's deployment cannot take ----------------------------------------------------


def test_other_threads_are_refused_with_a_condition_and_no_call() -> None:
    decision = run(elser_spec(threadsPerAllocation=4), owned(elser_stats()))
    assert decision.actions == ()
    assert summary(decision) == ("False", "EndpointParametersDiffer", "False", "True", "EndpointParametersDiffer")
    message = cond(decision, "Stalled")["message"]
    assert "threadsPerAllocation 4 (the endpoint's num_threads: 1)" in message
    assert f"created by inference endpoint [{ENDPOINT}]" in message
    assert any(e.type == "Warning" and e.reason == "EndpointParametersDiffer" for e in decision.events)


def test_a_refused_field_does_not_hold_back_a_count_the_endpoint_can_take() -> None:
    decision = run(elser_spec(threadsPerAllocation=4, numberOfAllocations=3), owned(elser_stats()))
    (action,) = decision.actions
    assert isinstance(action, UpdateInferenceEndpoint) and action.update.number_of_allocations == 3
    assert cond(decision, "Ready")["reason"] == "AllocationsDiffer"


@pytest.mark.parametrize(
    ("field", "value", "text"),
    [
        ("queueCapacity", 500, "queueCapacity 500 (running: 10000)"),
        ("priority", "low", "priority low (running: normal)"),
        ("cacheSize", "1mb", "cacheSize 1mb (running: 1.5kb)"),
    ],
)
def test_restart_type_changes_are_refused_without_a_restart(field: str, value: Any, text: str) -> None:
    overrides: dict[str, Any] = {field: value}
    if field == "priority":
        overrides["numberOfAllocations"] = 1
    running = elser_stats(number_of_allocations=overrides.get("numberOfAllocations", 2))
    decision = run(elser_spec(**overrides), owned(running))
    assert not [a for a in decision.actions if isinstance(a, StopDeployment)]
    stalled = cond(decision, "Stalled")
    assert stalled["reason"] == "EndpointParametersDiffer" and text in stalled["message"]
    assert "does not restart an endpoint's deployment" in stalled["message"]


def test_matching_start_parameters_are_fine() -> None:
    decision = run(elser_spec(threadsPerAllocation=1, queueCapacity=10000), owned(elser_stats()))
    assert summary(decision)[:2] == ("True", "FullyAllocated")


def test_zero_allocations_without_adaptive_are_refused_and_nothing_is_stopped() -> None:
    decision = run(elser_spec(numberOfAllocations=0), owned(elser_stats()))
    assert decision.actions == ()
    assert summary(decision) == ("False", "EndpointCannotScaleToZero", "False", "True", "EndpointCannotScaleToZero")
    assert "minNumberOfAllocations: 0" in cond(decision, "Stalled")["message"]


def test_zero_with_adaptive_min_zero_lets_elasticsearch_scale_to_zero() -> None:
    decision = run(elser_spec(numberOfAllocations=0, adaptiveAllocations=ADAPTIVE_SPEC), owned(elser_stats()))
    (action,) = decision.actions
    assert isinstance(action, UpdateInferenceEndpoint) and action.update.adaptive == adaptive(True, 0, 4)


def test_zero_on_a_deployment_that_endpoints_use_is_refused() -> None:
    obs = replace(observation(stats()), inference_users=("e5-a", "e5-b"))
    decision = run(spec(numberOfAllocations=0), obs)
    assert decision.actions == ()
    stalled = cond(decision, "Stalled")
    assert stalled["reason"] == "DeploymentUsedByInferenceEndpoint" and "[e5-a, e5-b]" in stalled["message"]


def test_zero_on_an_ordinary_deployment_still_stops_it() -> None:
    (action,) = run(spec(numberOfAllocations=0), observation(stats())).actions
    assert action == StopDeployment(deployment_id=MODEL)


# -- never started by the operator -----------------------------------------------------------------


@pytest.mark.parametrize("start_policy", ["IfMissing", "Never"])
def test_an_endpoint_without_its_deployment_is_reported_not_started(start_policy: str) -> None:
    decision = run(elser_spec(startPolicy=start_policy), owned())
    assert decision.actions == ()
    assert summary(decision) == ("False", "EndpointNotDeployed", "False", "True", "EndpointNotDeployed")
    message = cond(decision, "Ready")["message"]
    assert "deploys it on the endpoint's first use" in message and "never starts" in message
    assert not decision.status.get("allocations") and "assignmentState" not in decision.status
    assert decision.status["inferenceEndpoint"]["id"] == ENDPOINT


# -- unknown ownership -----------------------------------------------------------------------------


def test_unknown_ownership_falls_back_to_the_trained_model_update_and_says_so() -> None:
    problem = "Elasticsearch rejected listing of inference endpoints (403 security_exception): unauthorized"
    obs = replace(observation(stats(), version="9.2.0"), inference_unknown=problem)
    decision = run(spec(numberOfAllocations=4), obs)
    (action,) = decision.actions
    assert isinstance(action, UpdateDeployment)
    message = cond(decision, "Ready")["message"]
    assert problem in message and "monitor_inference" in message
    settled = run(spec(numberOfAllocations=2), obs)
    assert summary(settled)[:2] == ("True", "FullyAllocated") and problem in cond(settled, "Ready")["message"]


# -- freshness and status --------------------------------------------------------------------------


def test_after_an_endpoint_update_the_next_pass_waits_for_a_newer_poll() -> None:
    # The inference _update answers with the endpoint, not an assignment: nothing newer than the poll is known.
    recent = RecentAction("update", SNAPSHOT_AT + timedelta(seconds=1), None)
    decision = run(elser_spec(numberOfAllocations=5), owned(elser_stats(), recent=recent))
    assert decision.actions == ()
    assert cond(decision, "Ready")["reason"] == "AwaitingObservation"


def test_the_endpoint_is_carried_while_nothing_is_observed_and_dropped_once_it_is_gone() -> None:
    previous = run(elser_spec(), owned(elser_stats())).status
    failed = observation(snapshot=None, version="9.2.0")
    assert run(elser_spec(), failed, previous).status["inferenceEndpoint"]["id"] == ENDPOINT
    gone = observation(elser_stats(), version="9.2.0", models=(ELSER,))  # the endpoint was deleted
    assert "inferenceEndpoint" not in run(elser_spec(), gone, previous).status


def test_a_successful_endpoint_update_is_recorded_like_an_update() -> None:
    decision = run(elser_spec(numberOfAllocations=4), owned(elser_stats()))
    (action,) = decision.actions
    settled = settle(decision, Succeeded(action, None), NOW, follow_up=1.0)
    event = settled.events[-1]
    assert (event.type, event.reason) == ("Normal", "DeploymentUpdated")
    assert event.message == (
        f"Updated deployment [{ENDPOINT}] through inference endpoint [{ENDPOINT}] (sparse_embedding): "
        "number_of_allocations 2 -> 4"
    )
    # No assignment in the answer: the status stays as decided until a poll newer than the change.
    assert settled.status == {**decision.status, "lastUpdateTime": "2026-11-25T10:00:00Z"}


def test_allocating_endpoint_deployment_is_not_ready_yet() -> None:
    decision = run(elser_spec(), owned(elser_stats(allocation_status=allocation(1, 2))))
    assert summary(decision)[:2] == ("False", "Allocating")


# -- deletion --------------------------------------------------------------------------------------


def test_deletion_with_stop_never_stops_an_endpoints_deployment() -> None:
    raw = parse_or_error(elser_spec(deletionPolicy="Stop"))
    obs = owned(elser_stats())
    assert decide_deletion(raw, obs) == ()
    notice = deletion_notice(raw, obs)
    assert notice is not None and (notice.type, notice.reason) == ("Warning", "StopSkippedForInferenceEndpoint")
    assert f"created by inference endpoint [{ENDPOINT}]" in notice.message
    assert "never deletes inference endpoints" in notice.message


def test_deletion_with_stop_leaves_a_deployment_that_endpoints_use() -> None:
    raw = parse_or_error(spec(deletionPolicy="Stop"))
    obs = replace(observation(stats()), inference_users=("e5-on-search",))
    assert decide_deletion(raw, obs) == ()
    notice = deletion_notice(raw, obs)
    assert notice is not None and "[e5-on-search] use it" in notice.message


@pytest.mark.parametrize("overrides", [{"deletionPolicy": "Retain"}, {"deletionPolicy": "Stop", "paused": True}])
def test_no_notice_when_nothing_would_have_been_stopped(overrides: dict[str, Any]) -> None:
    assert deletion_notice(parse_or_error(elser_spec(**overrides)), owned(elser_stats())) is None


def test_ordinary_deployments_are_still_stopped() -> None:
    raw = parse_or_error(spec(deletionPolicy="Stop"))
    assert decide_deletion(raw, observation(stats())) == (StopDeployment(deployment_id=MODEL),)
    assert deletion_notice(raw, observation(stats())) is None


# -- ownership from the poll -----------------------------------------------------------------------


def test_ownership_from_the_poll() -> None:
    attached = InferenceEndpoint(
        "e5-on-search", "text_embedding", "elasticsearch", InferenceServiceSettings(deployment_id="search-e5")
    )
    listing = InferenceEndpoints((endpoint(), attached))
    snapshot = ClusterSnapshot(inference=listing)
    assert ownership(snapshot, ENDPOINT) == (endpoint(), (), None)
    assert ownership(snapshot, "search-e5") == (None, ("e5-on-search",), None)
    assert ownership(snapshot, "other") == (None, (), None)
    assert ownership(ClusterSnapshot(inference=InferenceEndpoints(problem="403")), ENDPOINT) == (None, (), "403")
    assert ownership(ClusterSnapshot(), ENDPOINT) == (None, (), None)  # not listed (before 8.11)
    assert ownership(None, ENDPOINT) == (None, (), None)


# -- an endpoint _update that Elasticsearch skipped (a stale stored count) ----------------------------


def endpoint_update(number: int, from_number: int) -> UpdateInferenceEndpoint:
    update = UpdateDeployment(ENDPOINT, number, None, False, from_number_of_allocations=from_number)
    return UpdateInferenceEndpoint(ENDPOINT, "sparse_embedding", update)


def sent_before_the_poll(action: UpdateInferenceEndpoint) -> RecentAction:
    return RecentAction("update", SNAPSHOT_AT - timedelta(seconds=1), None, action)


def test_a_skipped_endpoint_update_is_sent_again_through_another_count() -> None:
    # Upgraded from 9.1, where the trained-model _update moved the deployment to 3 and left the endpoint's
    # stored count at 1: on 9.2 the endpoint _update to 1 changes no stored value, so Elasticsearch skips it.
    running = elser_stats(number_of_allocations=3, allocation_status=allocation(3, 3))
    obs = owned(running, recent=sent_before_the_poll(endpoint_update(1, 3)))
    decision = run(elser_spec(numberOfAllocations=1), obs)
    (action,) = decision.actions
    assert isinstance(action, UpdateInferenceEndpoint)
    assert (action.update.number_of_allocations, action.stepping_to) == (2, 1)
    assert "Elasticsearch skipped number_of_allocations 1" in cond(decision, "Reconciling")["message"]


@pytest.mark.parametrize(("wanted", "live", "via"), [(3, 1, 2), (2, 1, 3), (1, 2, 3), (4, 3, 5), (5, 1, 4)])
def test_the_count_gone_through_is_neither_the_wanted_nor_the_running_one(wanted: int, live: int, via: int) -> None:
    running = elser_stats(number_of_allocations=live, allocation_status=allocation(live, live))
    obs = owned(running, recent=sent_before_the_poll(endpoint_update(wanted, live)))
    (action,) = run(elser_spec(numberOfAllocations=wanted), obs).actions
    assert isinstance(action, UpdateInferenceEndpoint) and action.update.number_of_allocations == via


def test_after_going_through_another_count_the_wanted_one_is_sent() -> None:
    stepped = replace(endpoint_update(2, 3), stepping_to=1)
    running = elser_stats(number_of_allocations=2, allocation_status=allocation(2, 2))
    (action,) = run(elser_spec(numberOfAllocations=1), owned(running, recent=sent_before_the_poll(stepped))).actions
    assert isinstance(action, UpdateInferenceEndpoint)
    assert (action.update.number_of_allocations, action.stepping_to) == (1, None)


def test_drift_after_an_applied_endpoint_update_is_corrected_in_one_call() -> None:
    # The last update (to 2, from 1) was applied; then someone set 4 through the inference API.
    running = elser_stats(number_of_allocations=4, allocation_status=allocation(4, 4))
    obs = owned(running, recent=sent_before_the_poll(endpoint_update(2, 1)))
    (action,) = run(elser_spec(numberOfAllocations=2), obs).actions
    assert isinstance(action, UpdateInferenceEndpoint)
    assert (action.update.number_of_allocations, action.stepping_to) == (2, None)
