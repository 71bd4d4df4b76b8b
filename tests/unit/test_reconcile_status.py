"""Status contents, routing-table merging, condition stability, events, deletion, action events."""

from __future__ import annotations

from typing import Any

import pytest

from esml_operator.elasticsearch import errors as es
from esml_operator.elasticsearch.models import NodeRoute
from esml_operator.reconcile import (
    CONDITION_TYPES,
    ConfigProblem,
    Event,
    with_action_applied,
)
from esml_operator.reconcile.conditions import sanitize_reason
from tests.unit.reconcile_helpers import (
    EARLIER,
    MODEL,
    NOW,
    SELECTOR,
    adaptive,
    allocation,
    assignment,
    cond,
    observation,
    run,
    spec,
    stats,
)


def test_complete_status_of_a_ready_deployment() -> None:
    decision = run(obs=observation(stats(adaptive_allocations=adaptive(False, 1, 4))))
    status = dict(decision.status)
    conditions = status.pop("conditions")
    assert status == {
        "observedGeneration": 3,
        "desiredAllocations": "2",
        "assignmentState": "started",
        "allocations": 2,
        "targetAllocations": 2,
        "allocationState": "fully_allocated",
        "routingTable": [
            {"node": "node-a", "nodeName": "es-ml-0", "currentAllocations": 1, "routingState": "started"},
            {"node": "node-b", "nodeName": "es-ml-1", "currentAllocations": 1, "routingState": "started"},
        ],
        "taskParameters": {
            "modelId": MODEL,
            "deploymentId": MODEL,
            "numberOfAllocations": 2,
            "threadsPerAllocation": 1,
            "queueCapacity": 10000,
            "priority": "normal",
            "cacheSize": "1.5kb",
        },
        "adaptiveAllocations": {"enabled": False, "minNumberOfAllocations": 1, "maxNumberOfAllocations": 4},
        "startTime": "2025-11-25T10:00:00Z",
        "lastSyncTime": "2026-11-25T09:59:55Z",
        "elasticsearchVersion": "8.16.0",
        "selector": SELECTOR,
        "vcpus": 2,  # 2 allocations x 1 thread: the cost figure
    }
    assert conditions == [
        {
            "type": "Ready",
            "status": "True",
            "reason": "FullyAllocated",
            "message": "Deployment [my-model] is fully allocated: 2 of 2 allocations",
            "lastTransitionTime": "2026-11-25T10:00:00Z",
            "observedGeneration": 3,
        },
        {
            "type": "Reconciling",
            "status": "False",
            "reason": "Reconciled",
            "message": "Elasticsearch matches the spec",
            "lastTransitionTime": "2026-11-25T10:00:00Z",
            "observedGeneration": 3,
        },
        {
            "type": "Stalled",
            "status": "False",
            "reason": "NotStalled",
            "message": "",
            "lastTransitionTime": "2026-11-25T10:00:00Z",
            "observedGeneration": 3,
        },
        {
            "type": "ElasticsearchReachable",
            "status": "True",
            "reason": "Connected",
            "message": "Connected to Elasticsearch 8.16.0 (cluster prod)",
            "lastTransitionTime": "2026-11-25T10:00:00Z",
            "observedGeneration": 3,
        },
    ]
    assert decision.events == (
        Event("Normal", "Ready", "Deployment [my-model] is fully allocated: 2 of 2 allocations"),
    )


def test_routing_table_targets_from_the_last_assignment_while_it_agrees() -> None:
    routes = (
        NodeRoute("node-b", "started", reason="", node_name="es-ml-1", current_allocations=1),
        NodeRoute("node-a", "starting", reason=None, node_name="es-ml-0", current_allocations=None),
        NodeRoute("node-c", "failed", reason="out of memory", node_name=None),
    )
    agreeing = assignment(3, {"node-a": (2, 2), "node-b": (1, 1)})
    obs = observation(
        stats(number_of_allocations=3, allocation_status=allocation(1, 3), nodes=routes), last_assignment=agreeing
    )
    assert run(spec(numberOfAllocations=3), obs).status["routingTable"] == [
        {"node": "node-a", "nodeName": "es-ml-0", "targetAllocations": 2, "routingState": "starting"},
        {
            "node": "node-b",
            "nodeName": "es-ml-1",
            "currentAllocations": 1,
            "targetAllocations": 1,
            "routingState": "started",
            "reason": "",
        },
        {"node": "node-c", "routingState": "failed", "reason": "out of memory"},
    ]
    stale = assignment(4, {"node-a": (2, 2), "node-b": (2, 2)})
    obs = observation(
        stats(number_of_allocations=3, allocation_status=allocation(1, 3), nodes=routes), last_assignment=stale
    )
    table = run(spec(numberOfAllocations=3), obs).status["routingTable"]
    assert [route.get("targetAllocations") for route in table] == [None, None, None]


def test_routing_table_ignores_an_assignment_of_another_deployment() -> None:
    other = assignment(2, {"node-a": (1, 1)})
    other = type(other)(
        task_parameters=type(other.task_parameters)(
            model_id=MODEL, deployment_id="other", number_of_allocations=2, threads_per_allocation=1, queue_capacity=1
        ),
        assignment_state="started",
        routing_table=other.routing_table,
    )
    table = run(obs=observation(stats(), last_assignment=other)).status["routingTable"]
    assert all("targetAllocations" not in route for route in table)


def test_missing_deployment_reports_no_deployment_fields() -> None:
    previous = {"assignmentState": "started", "allocations": 2, "routingTable": [{"node": "x"}], "startTime": EARLIER}
    status = run(obs=observation(), previous=previous).status
    for key in ("allocations", "assignmentState", "routingTable", "startTime", "taskParameters", "targetAllocations"):
        assert key not in status


@pytest.mark.parametrize(
    "obs",
    [
        observation(snapshot=None, fetch_error=es.ConnectionFailedError("refused")),
        observation(stats(number_of_allocations=7), fetch_error=es.ConnectionFailedError("refused")),
        observation(snapshot=None, config_problem=ConfigProblem("SecretNotFound", "missing"), version=None),
        observation(snapshot=None, version=None),
    ],
)
def test_nothing_observed_keeps_last_known_elasticsearch_fields(obs: Any) -> None:
    previous = run(obs=observation(stats())).status
    previous["lastUpdateTime"] = EARLIER
    status = run(obs=obs, previous=previous).status
    for key in (
        "assignmentState",
        "allocations",
        "targetAllocations",
        "allocationState",
        "routingTable",
        "taskParameters",
        "startTime",
        "lastSyncTime",
        "elasticsearchVersion",
        "lastUpdateTime",
    ):
        assert status[key] == previous[key], key
    assert status["conditions"] != previous["conditions"]


def test_invalid_spec_keeps_last_known_fields() -> None:
    previous = run(obs=observation(stats())).status
    status = run(spec(modelId="BAD"), observation(stats(number_of_allocations=9)), previous).status
    assert status["taskParameters"] == previous["taskParameters"]


def test_elasticsearch_version_updates_even_when_stats_fail() -> None:
    previous = run(obs=observation(stats(), version="8.15.0")).status
    status = run(
        obs=observation(fetch_error=es.ServerError("boom", status=500), version="8.16.1"), previous=previous
    ).status
    assert status["elasticsearchVersion"] == "8.16.1"


def test_with_action_applied_sets_last_update_time_and_it_is_carried() -> None:
    status = with_action_applied({"allocations": 1}, NOW)
    assert status == {"allocations": 1, "lastUpdateTime": "2026-11-25T10:00:00Z"}
    later = run(obs=observation(stats(), snapshot_at=NOW), previous=status, now=NOW.replace(minute=5))
    assert later.status["lastUpdateTime"] == "2026-11-25T10:00:00Z"


def test_all_conditions_present_in_order_from_the_first_reconcile() -> None:
    for obs in (observation(), observation(stats()), observation(snapshot=None, version=None)):
        decision = run(obs=obs)
        assert [item["type"] for item in decision.status["conditions"]] == list(CONDITION_TYPES)
        assert all(item["observedGeneration"] == 3 for item in decision.status["conditions"])


def test_last_transition_time_is_stable_while_status_is_unchanged() -> None:
    first = run(obs=observation(stats()))
    first.status["conditions"] = [{**item, "lastTransitionTime": EARLIER} for item in first.status["conditions"]]
    # A different message with the same status keeps the time.
    second = run(
        obs=observation(stats(number_of_allocations=2, allocation_status=allocation(2, 2))), previous=first.status
    )
    assert [item["lastTransitionTime"] for item in second.status["conditions"]] == [EARLIER] * 4
    # Ready True -> False and Reconciling False -> True move; Stalled and reachability stay.
    third = run(spec(numberOfAllocations=4), observation(stats()), previous=second.status)
    times = {item["type"]: item["lastTransitionTime"] for item in third.status["conditions"]}
    assert times == {
        "Ready": "2026-11-25T10:00:00Z",
        "Reconciling": "2026-11-25T10:00:00Z",
        "Stalled": EARLIER,
        "ElasticsearchReachable": EARLIER,
    }


def test_warning_events_only_for_new_failures() -> None:
    error = es.ConnectionFailedError("connection refused")
    first = run(obs=observation(snapshot=None, fetch_error=error))
    assert first.events == (Event("Warning", "ConnectionFailedError", "Cannot use Elasticsearch: connection refused"),)
    again = run(obs=observation(snapshot=None, fetch_error=error), previous=first.status)
    assert again.events == ()
    other = es.ConnectionFailedError("name or service not known")
    changed = run(obs=observation(snapshot=None, fetch_error=other), previous=again.status)
    assert changed.events == (
        Event("Warning", "ConnectionFailedError", "Cannot use Elasticsearch: name or service not known"),
    )
    recovered = run(obs=observation(stats()), previous=changed.status)
    assert [event.reason for event in recovered.events] == ["Ready"]
    steady = run(obs=observation(stats()), previous=recovered.status)
    assert steady.events == ()
    relapse = run(obs=observation(snapshot=None, fetch_error=error), previous=steady.status)
    assert [event.type for event in relapse.events] == ["Warning"]


def test_progress_is_not_a_warning() -> None:
    for obs in (
        observation(stats(allocation_status=allocation(1, 2))),
        observation(stats(state="starting", allocation_status=allocation(0, 2))),
        observation(),
    ):
        assert run(obs=obs).events == ()


def test_stalled_model_not_found_warns_once() -> None:
    first = run(obs=observation(models=()))
    assert [(event.type, event.reason) for event in first.events] == [("Warning", "ModelNotFound")]
    assert run(obs=observation(models=()), previous=first.status).events == ()


def test_pause_and_resume_events() -> None:
    running = run(obs=observation(stats()))
    paused = run(spec(paused=True), observation(stats()), previous=running.status)
    assert paused.events == (
        Event("Normal", "Paused", "Reconciliation paused: the operator observes but changes nothing"),
    )
    still = run(spec(paused=True), observation(stats()), previous=paused.status)
    assert still.events == ()
    resumed = run(spec(), observation(stats()), previous=still.status)
    assert resumed.events == (Event("Normal", "Resumed", "Reconciliation resumed"),)


def test_reconciling_and_stalled_are_never_both_true() -> None:
    error = es.TooManyRequestsError("full", status=429, error_type="status_exception")
    cases = [
        observation(stats(state="failed")),
        observation(stats(allocation_status=allocation(1, 2))),
        observation(models=()),
        observation(stats(), last_failure=None),
        observation(stats(threads_per_allocation=8, allocation_status=allocation(0, 2))),
        observation(stats(), fetch_error=error),
    ]
    for obs in cases:
        for raw in (spec(), spec(numberOfAllocations=5), spec(threadsPerAllocation=2), spec(startPolicy="Never")):
            decision = run(raw, obs)
            flags = {item["type"]: item["status"] for item in decision.status["conditions"]}
            assert not (flags["Reconciling"] == "True" and flags["Stalled"] == "True")


@pytest.mark.parametrize(
    ("reason", "clean"),
    [("status_exception", "status_exception"), ("Bad Reason!", "Bad_Reason_"), ("404", "Error_404"), ("", "Error")],
)
def test_reasons_are_valid_condition_reasons(reason: str, clean: str) -> None:
    assert sanitize_reason(reason) == clean


def test_long_messages_are_truncated() -> None:
    error = es.ServerError("x" * 5000, status=500)
    message = cond(run(obs=observation(snapshot=None, fetch_error=error)), "Ready")["message"]
    assert len(message) == 2048 and message.endswith("...")


@pytest.mark.parametrize(
    ("adaptive_spec", "shown"),
    [
        (None, "2"),
        ({"enabled": False, "minNumberOfAllocations": 1, "maxNumberOfAllocations": 4}, "2"),
        ({"enabled": True, "minNumberOfAllocations": 0, "maxNumberOfAllocations": 4}, "adaptive 0-4"),
        # Unset bounds show what applies: Elasticsearch's own (no minimum: down to 0 when idle; at most 32).
        ({"enabled": True, "maxNumberOfAllocations": 8}, "adaptive 0-8"),
        ({"enabled": True, "minNumberOfAllocations": 2}, "adaptive 2-32"),
        ({"enabled": True}, "adaptive 0-32"),
        ({"enabled": True, "minNumberOfAllocations": 40}, "adaptive 40-40"),
    ],
)
def test_desired_column_shows_the_count_or_the_adaptive_range(adaptive_spec: Any, shown: str) -> None:
    raw = spec(adaptiveAllocations=adaptive_spec) if adaptive_spec else spec()
    assert run(raw, observation(stats())).status["desiredAllocations"] == shown


def test_desired_column_shows_the_bounds_elasticsearch_reports_for_unset_ones() -> None:
    """Issue 17 item 3: an unset bound is the one Elasticsearch applies (it keeps a stored bound the spec omits)."""
    raw = spec(adaptiveAllocations={"enabled": True, "maxNumberOfAllocations": 8})
    observed = stats(adaptive_allocations=adaptive(True, 2, 6))
    assert run(raw, observation(observed)).status["desiredAllocations"] == "adaptive 2-8"  # the spec's max wins
    # Without a new poll, the last reported bounds (status.adaptiveAllocations) still apply.
    previous = {"adaptiveAllocations": {"enabled": True, "minNumberOfAllocations": 1}}
    stale = observation(snapshot=None, fetch_error=es.ConnectionFailedError("refused"))
    assert run(raw, stale, previous).status["desiredAllocations"] == "adaptive 1-8"
    # Bounds of disabled adaptive settings do not apply.
    disabled = stats(adaptive_allocations=adaptive(False, 3, 9))
    assert run(raw, observation(disabled)).status["desiredAllocations"] == "adaptive 0-8"
