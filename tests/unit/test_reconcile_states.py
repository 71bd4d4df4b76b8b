"""decide(): assignment x allocation states, divergence, adaptive, policies, paused, versions."""

from __future__ import annotations

from typing import Any

import pytest

from esml_operator.reconcile import StartDeployment, UpdateDeployment
from tests.unit.reconcile_helpers import (
    ADAPTIVE_SPEC,
    MODEL,
    adaptive,
    allocation,
    cond,
    observation,
    run,
    spec,
    stats,
    summary,
)

# (assignment state, allocation status) -> (Ready, Ready reason, Reconciling, Reconciling reason, Stalled, requeue)
STATE_TABLE: list[tuple[str | None, Any, tuple[str, str, str, str, str, float | None]]] = [
    ("started", allocation(2, 2), ("True", "FullyAllocated", "False", "Reconciled", "False", None)),
    ("started", allocation(1, 2), ("False", "Allocating", "True", "Allocating", "False", 10.0)),
    ("started", allocation(0, 2), ("False", "Allocating", "True", "Allocating", "False", 10.0)),
    ("started", None, ("False", "Allocating", "True", "Allocating", "False", 10.0)),
    ("starting", allocation(0, 2), ("False", "Starting", "True", "Starting", "False", 10.0)),
    ("starting", allocation(1, 2), ("False", "Starting", "True", "Starting", "False", 10.0)),
    ("starting", allocation(2, 2), ("False", "Starting", "True", "Starting", "False", 10.0)),
    (None, None, ("False", "Starting", "True", "Starting", "False", 10.0)),
    ("stopping", None, ("False", "Stopping", "True", "WaitingForStop", "False", 10.0)),
    ("failed", allocation(0, 2), ("False", "DeploymentFailed", "False", "Stalled", "True", None)),
    ("failed", allocation(1, 2), ("False", "DeploymentFailed", "False", "Stalled", "True", None)),
]


@pytest.mark.parametrize(("state", "alloc", "expected"), STATE_TABLE)
@pytest.mark.parametrize("spec_allocations", [2, 4])
def test_assignment_state_by_allocation_state(
    state: str | None, alloc: Any, expected: tuple[Any, ...], spec_allocations: int
) -> None:
    decision = run(spec(numberOfAllocations=spec_allocations), observation(stats(state=state, allocation_status=alloc)))
    ready, reconciling, stalled = cond(decision, "Ready"), cond(decision, "Reconciling"), cond(decision, "Stalled")
    if spec_allocations == 4 and state == "started":
        # Diverged and started: the update is planned whatever the allocation state.
        assert decision.actions == (UpdateDeployment(MODEL, 4, None, False, from_number_of_allocations=2),)
        assert (ready["status"], ready["reason"]) == ("False", "AllocationsDiffer")
        assert (reconciling["status"], reconciling["reason"]) == ("True", "Updating")
        assert decision.requeue_after == 10.0
        return
    assert decision.actions == ()
    got = (
        ready["status"],
        ready["reason"],
        reconciling["status"],
        reconciling["reason"],
        stalled["status"],
        decision.requeue_after,
    )
    assert got == expected
    if expected[4] == "True":
        assert stalled["reason"] == expected[1]
    assert not (reconciling["status"] == "True" and stalled["status"] == "True")


def test_failed_state_message_carries_the_elasticsearch_reason() -> None:
    decision = run(obs=observation(stats(state="failed", reason="All node routes are failed; see node route reason")))
    assert cond(decision, "Ready")["message"] == (
        "Deployment [my-model] failed on every node: All node routes are failed; see node route reason"
    )


def test_starting_with_divergence_waits_and_says_what_follows() -> None:
    decision = run(
        spec(numberOfAllocations=4), observation(stats(state="starting", allocation_status=allocation(0, 2)))
    )
    assert decision.actions == ()
    assert cond(decision, "Ready")["message"] == (
        "Deployment [my-model] is starting (0 of 2 allocations); then updating number_of_allocations 2 -> 4"
    )


def test_allocating_message_includes_the_elasticsearch_reason() -> None:
    reason = "Could not assign (more) allocations on node [n1]. Reason: insufficient memory"
    decision = run(obs=observation(stats(allocation_status=allocation(1, 2), reason=reason)))
    assert cond(decision, "Ready")["message"] == f"Deployment [my-model] has 1 of 2 allocations: {reason}"


@pytest.mark.parametrize(
    ("spec_count", "es_count", "alloc", "expected"),
    [
        (2, 2, allocation(2, 2), ()),
        (4, 2, allocation(2, 2), (UpdateDeployment(MODEL, 4, None, False, from_number_of_allocations=2),)),
        (1, 3, allocation(3, 3), (UpdateDeployment(MODEL, 1, None, False, from_number_of_allocations=3),)),
        # A node left: fewer allocations run, number_of_allocations unchanged -> not divergence.
        (2, 2, allocation(1, 2), ()),
        (2, 2, allocation(0, 2), ()),
        # Someone changed it in Kibana: corrected the same way.
        (2, 5, allocation(5, 5), (UpdateDeployment(MODEL, 2, None, False, from_number_of_allocations=5),)),
    ],
)
def test_fixed_count_divergence(spec_count: int, es_count: int, alloc: Any, expected: tuple[Any, ...]) -> None:
    decision = run(
        spec(numberOfAllocations=spec_count),
        observation(stats(number_of_allocations=es_count, allocation_status=alloc)),
    )
    assert decision.actions == expected


def test_count_falls_back_to_target_allocation_count_when_number_missing() -> None:
    obs = observation(stats(number_of_allocations=None, allocation_status=allocation(3, 3)))
    assert run(spec(numberOfAllocations=3), obs).actions == ()
    assert run(spec(numberOfAllocations=2), obs).actions == (
        UpdateDeployment(MODEL, 2, None, False, from_number_of_allocations=3),
    )


def test_count_unknown_plans_nothing() -> None:
    decision = run(spec(numberOfAllocations=3), observation(stats(number_of_allocations=None, allocation_status=None)))
    assert decision.actions == ()


def test_update_is_not_sent_while_stopping_even_if_diverged() -> None:
    decision = run(spec(numberOfAllocations=5), observation(stats(state="stopping", allocation_status=None)))
    assert decision.actions == ()


def test_missing_deployment_is_started_with_spec_parameters() -> None:
    raw = spec(
        deploymentId="my-model-search",
        numberOfAllocations=3,
        threadsPerAllocation=2,
        queueCapacity=500,
        priority="normal",
        cacheSize="10mb",
    )
    decision = run(raw, observation())
    assert decision.actions == (
        StartDeployment(
            model_id=MODEL,
            deployment_id="my-model-search",
            number_of_allocations=3,
            threads_per_allocation=2,
            queue_capacity=500,
            priority="normal",
            cache_size="10mb",
            adaptive=None,
        ),
    )
    assert summary(decision) == ("False", "DeploymentNotFound", "True", "False", "NotStalled")
    assert cond(decision, "Reconciling")["reason"] == "Starting"
    assert decision.requeue_after == 10.0
    assert decision.events == ()  # starting is progress, not a problem


def test_missing_adaptive_deployment_is_started_without_a_count() -> None:
    decision = run(spec(adaptiveAllocations=ADAPTIVE_SPEC), observation())
    assert decision.actions == (StartDeployment(MODEL, MODEL, None, None, None, None, None, adaptive()),)


def test_missing_model_is_stalled_without_start() -> None:
    decision = run(obs=observation(models=("other",)))
    assert decision.actions == ()
    assert summary(decision) == ("False", "ModelNotFound", "False", "True", "ModelNotFound")
    assert decision.requeue_after is None
    assert "Model [my-model] does not exist in Elasticsearch" in cond(decision, "Stalled")["message"]


def test_start_policy_never_does_not_start() -> None:
    decision = run(spec(startPolicy="Never"), observation())
    assert decision.actions == ()
    assert summary(decision) == ("False", "DeploymentNotFound", "False", "True", "DeploymentNotFound")
    assert "startPolicy is Never" in cond(decision, "Stalled")["message"]


def test_start_policy_never_adopts_and_manages_an_existing_deployment() -> None:
    decision = run(spec(startPolicy="Never", numberOfAllocations=4), observation(stats()))
    assert decision.actions == (UpdateDeployment(MODEL, 4, None, False, from_number_of_allocations=2),)


def test_deployment_id_of_another_model_is_left_alone() -> None:
    decision = run(spec(deploymentId="shared"), observation(stats(deployment_id="shared", model_id="other-model")))
    assert decision.actions == ()
    assert summary(decision) == ("False", "DeploymentModelMismatch", "False", "True", "DeploymentModelMismatch")


@pytest.mark.parametrize(
    ("obs", "ready_reason", "stalled"),
    [
        (observation(stats(number_of_allocations=5, allocation_status=allocation(5, 5))), "AllocationsDiffer", "False"),
        (observation(), "DeploymentNotFound", "False"),
        (observation(stats()), "FullyAllocated", "False"),
        (observation(stats(allocation_status=allocation(1, 2))), "Allocating", "False"),
        (observation(stats(state="starting", allocation_status=allocation(0, 2))), "Starting", "False"),
        (observation(stats(state="failed")), "DeploymentFailed", "True"),
        (observation(models=()), "ModelNotFound", "True"),
    ],
)
def test_paused_observes_but_never_acts(obs: Any, ready_reason: str, stalled: str) -> None:
    decision = run(spec(paused=True), obs)
    assert decision.actions == ()
    assert cond(decision, "Ready")["reason"] == ready_reason
    assert (cond(decision, "Reconciling")["status"], cond(decision, "Reconciling")["reason"]) == ("False", "Paused")
    assert cond(decision, "Stalled")["status"] == stalled
    assert decision.requeue_after is None


def test_paused_with_divergence_is_not_ready_and_says_so() -> None:
    obs = observation(stats(number_of_allocations=5, allocation_status=allocation(5, 5)))
    ready = cond(run(spec(paused=True), obs), "Ready")
    assert (ready["status"], ready["message"]) == (
        "False",
        "Elasticsearch has number_of_allocations 5, the spec wants 2; reconciliation is paused",
    )


def test_paused_and_matching_is_ready() -> None:
    ready = cond(run(spec(paused=True), observation(stats())), "Ready")
    assert (ready["status"], ready["message"]) == (
        "True",
        "Deployment [my-model] is fully allocated: 2 of 2 allocations; reconciliation is paused",
    )


@pytest.mark.parametrize(
    ("patch", "running", "difference"),
    [
        ({"threadsPerAllocation": 4}, {}, "threadsPerAllocation 4 (running: 1)"),
        ({"queueCapacity": 1024}, {}, "queueCapacity 1024 (running: 10000)"),
        (
            {"priority": "low", "numberOfAllocations": 1},
            {"number_of_allocations": 1, "allocation_status": allocation(1, 1)},
            "priority low (running: normal)",
        ),
        ({"cacheSize": "10kb"}, {}, "cacheSize 10kb (running: 1.5kb)"),
    ],
)
def test_start_parameters_differ_is_stalled_without_action(
    patch: dict[str, Any], running: dict[str, Any], difference: str
) -> None:
    decision = run(spec(**patch), observation(stats(**running)))
    assert decision.actions == ()
    assert summary(decision) == ("False", "StartParametersDiffer", "False", "True", "StartParametersDiffer")
    message = cond(decision, "Stalled")["message"]
    assert message.startswith(f"Start-time parameters of deployment [my-model] differ from the spec: {difference}.")
    assert "fixed when a deployment starts" in message


@pytest.mark.parametrize(
    "patch",
    [
        {"threadsPerAllocation": 1, "queueCapacity": 10000, "priority": "normal", "cacheSize": "1630b"},
        {"cacheSize": "1.5kb"},
        {},  # unset start-time fields are never compared
    ],
)
def test_start_parameters_that_match_are_not_reported(patch: dict[str, Any]) -> None:
    assert summary(run(spec(**patch), observation(stats()))) == (
        "True",
        "FullyAllocated",
        "False",
        "False",
        "NotStalled",
    )


def test_start_parameter_difference_does_not_block_count_updates() -> None:
    decision = run(spec(threadsPerAllocation=4, numberOfAllocations=3), observation(stats()))
    assert decision.actions == (UpdateDeployment(MODEL, 3, None, False, from_number_of_allocations=2),)
    # Progress hides the stall (never both True); the stall shows once the count has converged.
    assert summary(decision) == ("False", "AllocationsDiffer", "True", "False", "NotStalled")


def test_start_parameters_differ_while_allocating_is_reconciling_not_stalled() -> None:
    decision = run(spec(threadsPerAllocation=4), observation(stats(allocation_status=allocation(1, 2))))
    assert summary(decision) == ("False", "StartParametersDiffer", "True", "False", "NotStalled")


def test_scale_down_in_progress_is_not_ready_although_elasticsearch_says_fully_allocated() -> None:
    # Elasticsearch reports fully_allocated as soon as the running count reaches the target, also from above.
    shrinking = stats(number_of_allocations=1, allocation_status=allocation(2, 1))
    assert shrinking.allocation_status is not None and shrinking.allocation_status.state == "fully_allocated"
    decision = run(spec(numberOfAllocations=1), observation(shrinking))
    assert decision.actions == ()
    assert summary(decision) == ("False", "ScalingDown", "True", "False", "NotStalled")
    assert "still runs 2 allocations" in cond(decision, "Ready")["message"]
    assert decision.requeue_after is not None
    done = run(
        spec(numberOfAllocations=1), observation(stats(number_of_allocations=1, allocation_status=allocation(1, 1)))
    )
    assert summary(done)[:2] == ("True", "FullyAllocated")
