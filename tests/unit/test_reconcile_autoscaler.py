"""decide(): the rule between an autoscaler and adaptive allocations (AutoscalerConflict). Pure."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from esml_operator.elasticsearch.errors import ServerError
from esml_operator.reconcile import CONDITION_TYPES, Failed, UpdateDeployment, settle
from esml_operator.reconcile.autoscaling import AUTOSCALER_CONFLICT
from tests.unit.reconcile_helpers import (
    ADAPTIVE_SPEC,
    NOW,
    adaptive,
    allocation,
    cond,
    failure,
    observation,
    run,
    spec,
    stats,
)


def with_hpas(*names: str, **stats_overrides: object) -> object:
    return replace(observation(stats(**stats_overrides)), autoscalers=names)


def types(decision: object) -> list[str]:
    return [item["type"] for item in decision.status["conditions"]]  # type: ignore[attr-defined]


def test_without_an_autoscaler_there_is_no_such_condition() -> None:
    assert types(run(spec())) == list(CONDITION_TYPES)


def test_one_hpa_without_adaptive_allocations_drives_the_count() -> None:
    decision = run(spec(numberOfAllocations=3), with_hpas("ner"))
    found = cond(decision, AUTOSCALER_CONFLICT)
    assert (found["status"], found["reason"]) == ("False", "NoConflict")
    assert "HorizontalPodAutoscaler ner drives numberOfAllocations" in found["message"]
    assert isinstance(decision.actions[0], UpdateDeployment)  # the autoscaler's count is applied
    assert decision.actions[0].number_of_allocations == 3
    assert not [e for e in decision.events if e.reason == AUTOSCALER_CONFLICT]


def test_with_adaptive_allocations_elasticsearch_wins_and_the_conflict_is_reported() -> None:
    # The HPA wrote numberOfAllocations 4; Elasticsearch's adaptive scaler runs 1: nothing is sent.
    es = {
        "adaptive_allocations": adaptive(True, 0, 4),
        "number_of_allocations": 1,
        "allocation_status": allocation(1, 1),
    }
    decision = run(spec(numberOfAllocations=4, adaptiveAllocations=ADAPTIVE_SPEC), with_hpas("ner", **es))
    assert decision.actions == ()
    found = cond(decision, AUTOSCALER_CONFLICT)
    assert (found["status"], found["reason"]) == ("True", "AdaptiveAllocationsEnabled")
    assert "ner" in found["message"] and "ignored" in found["message"]
    assert [e.type for e in decision.events if e.reason == AUTOSCALER_CONFLICT] == ["Warning"]
    assert cond(decision, "Ready")["status"] == "True"  # the deployment itself is fine
    again = run(
        spec(numberOfAllocations=4, adaptiveAllocations=ADAPTIVE_SPEC),
        with_hpas("ner", **es),
        previous=decision.status,
        now=NOW + timedelta(seconds=30),
    )
    assert not [e for e in again.events if e.reason == AUTOSCALER_CONFLICT]  # one event, not one per pass
    assert cond(again, AUTOSCALER_CONFLICT)["lastTransitionTime"] == found["lastTransitionTime"]


def test_two_hpas_on_one_resource() -> None:
    found = cond(run(spec(), with_hpas("b", "a")), AUTOSCALER_CONFLICT)
    assert (found["status"], found["reason"]) == ("True", "MultipleAutoscalers")
    assert "(a, b)" in found["message"]


def test_the_condition_goes_when_the_autoscaler_goes() -> None:
    first = run(spec(), with_hpas("ner"))
    assert AUTOSCALER_CONFLICT in types(first)
    assert AUTOSCALER_CONFLICT not in types(run(spec(), observation(stats()), previous=first.status))


def test_a_failed_action_keeps_the_condition() -> None:
    decision = run(spec(numberOfAllocations=3), with_hpas("ner"))
    failed = settle(decision, Failed(failure(ServerError("boom", status=503))), NOW, follow_up=1.0)
    assert cond(failed, AUTOSCALER_CONFLICT)["reason"] == "NoConflict"
    assert cond(failed, "Reconciling")["reason"] == "ProgressingWithRetry"


def test_a_ready_deployment_with_an_autoscaler_conflict_shows_it_as_ready_s_reason() -> None:
    """Issue 17 item 7: `kubectl get` shows READY and REASON (Ready's): the conflict must surface there, while
    Ready stays True (the deployment serves, so Argo CD says Healthy and kstatus Current)."""
    es = {
        "adaptive_allocations": adaptive(True, 0, 4),
        "number_of_allocations": 1,
        "allocation_status": allocation(1, 1),
    }
    decision = run(spec(numberOfAllocations=4, adaptiveAllocations=ADAPTIVE_SPEC), with_hpas("ner", **es))
    ready = cond(decision, "Ready")
    assert (ready["status"], ready["reason"]) == ("True", AUTOSCALER_CONFLICT)
    assert ready["message"].startswith("Deployment [my-model] is fully allocated: 1 of 1 allocations")
    assert "HorizontalPodAutoscaler ner targets this ModelDeployment" in ready["message"]
    assert (cond(decision, "Reconciling")["status"], cond(decision, "Stalled")["status"]) == ("False", "False")
    assert [e.reason for e in decision.events].count("Ready") == 1  # one Ready event, as for FullyAllocated


def test_two_autoscalers_on_a_ready_deployment_show_as_ready_s_reason_too() -> None:
    ready = cond(run(spec(), with_hpas("b", "a")), "Ready")
    assert (ready["status"], ready["reason"]) == ("True", AUTOSCALER_CONFLICT)


def test_no_conflict_leaves_ready_s_reason_alone() -> None:
    ready = cond(run(spec(), with_hpas("ner")), "Ready")
    assert (ready["status"], ready["reason"]) == ("True", "FullyAllocated")
