"""decide(): adaptive allocations both ways, Elasticsearch versions, no-op updates."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from esml_operator.elasticsearch.models import AdaptiveAllocations, ClusterInfo, EsVersion
from esml_operator.reconcile import UpdateDeployment, parse_spec
from esml_operator.reconcile.plan import is_noop, plan_update
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


@pytest.mark.parametrize(
    ("spec_adaptive", "spec_count", "es_adaptive", "es_count", "expected"),
    [
        # fixed -> adaptive: adaptive only, never number_of_allocations
        (ADAPTIVE_SPEC, 2, None, 2, UpdateDeployment(MODEL, None, adaptive(), True, 2, None)),
        (
            ADAPTIVE_SPEC,
            2,
            adaptive(False, 1, 2),
            2,
            UpdateDeployment(MODEL, None, adaptive(), True, 2, adaptive(False, 1, 2)),
        ),
        # adaptive settings match: ES owns the count, whatever it is
        (ADAPTIVE_SPEC, 2, adaptive(), 3, None),
        (ADAPTIVE_SPEC, 1, adaptive(), 0, None),
        # adaptive bounds changed
        (
            {"enabled": True, "minNumberOfAllocations": 1, "maxNumberOfAllocations": 8},
            2,
            adaptive(),
            3,
            UpdateDeployment(MODEL, None, adaptive(True, 1, 8), True, 3, adaptive()),
        ),
        # a bound removed from the spec: sent as None (JSON null clears it)
        (
            {"enabled": True, "maxNumberOfAllocations": 4},
            2,
            adaptive(),
            3,
            UpdateDeployment(MODEL, None, adaptive(True, None, 4), True, 3, adaptive()),
        ),
        # adaptive -> fixed: both fields, as Kibana does; even when the count already matches
        (None, 3, adaptive(), 2, UpdateDeployment(MODEL, 3, AdaptiveAllocations(False), True, 2, adaptive())),
        (None, 2, adaptive(), 2, UpdateDeployment(MODEL, 2, AdaptiveAllocations(False), True, 2, adaptive())),
        (
            {"enabled": False},
            3,
            adaptive(),
            2,
            UpdateDeployment(MODEL, 3, AdaptiveAllocations(False), True, 2, adaptive()),
        ),
        # adaptive disabled in ES: plain count comparison
        (None, 2, adaptive(False, 1, 4), 2, None),
        (None, 3, adaptive(False, 1, 4), 2, UpdateDeployment(MODEL, 3, None, False, 2, None)),
        ({"enabled": False, "maxNumberOfAllocations": 9}, 2, None, 2, None),
    ],
)
def test_adaptive_transitions(
    spec_adaptive: Any, spec_count: int, es_adaptive: Any, es_count: int, expected: UpdateDeployment | None
) -> None:
    decision = run(
        spec(numberOfAllocations=spec_count, adaptiveAllocations=spec_adaptive),
        observation(
            stats(
                number_of_allocations=es_count,
                adaptive_allocations=es_adaptive,
                allocation_status=allocation(es_count, es_count),
            )
        ),
    )
    assert decision.actions == ((expected,) if expected else ())
    for action in decision.actions:
        assert isinstance(action, UpdateDeployment)
        if spec_adaptive and spec_adaptive.get("enabled"):
            assert action.number_of_allocations is None


def test_adaptive_matching_and_fully_allocated_is_ready() -> None:
    decision = run(
        spec(adaptiveAllocations=ADAPTIVE_SPEC),
        observation(
            stats(number_of_allocations=0, adaptive_allocations=adaptive(), allocation_status=allocation(0, 0))
        ),
    )
    assert summary(decision) == ("True", "FullyAllocated", "False", "False", "NotStalled")
    assert cond(decision, "Ready")["message"] == (
        "Deployment [my-model] is fully allocated: 0 of 0 allocations, adaptive allocations enabled (min 0, max 4); "
        "numberOfAllocations (2) is ignored while adaptive allocations are enabled"
    )


def test_adaptive_update_conditions() -> None:
    decision = run(spec(adaptiveAllocations=ADAPTIVE_SPEC), observation(stats()))
    assert cond(decision, "Ready")["reason"] == "AdaptiveAllocationsDiffer"
    assert cond(decision, "Ready")["message"] == (
        "Elasticsearch has adaptive allocations none, the spec wants enabled (min 0, max 4)"
    )
    assert cond(decision, "Reconciling")["message"] == (
        "Updating deployment [my-model]: adaptive_allocations none -> enabled (min 0, max 4)"
    )


@pytest.mark.parametrize(
    ("version", "raw", "obs_stats", "expected_action", "stalled_message"),
    [
        ("8.5.3", spec(), None, None, "Elasticsearch 8.5.3 is not supported: esml-operator needs 8.6 or later"),
        ("7.17.0", spec(), stats(), None, "Elasticsearch 7.17.0 is not supported: esml-operator needs 8.6 or later"),
        ("8.6.0", spec(numberOfAllocations=4), stats(), "update", None),
        ("8.6.0", spec(), None, "start", None),
        (
            "8.7.1",
            spec(deploymentId="for-search"),
            None,
            None,
            "a deploymentId different from modelId needs Elasticsearch 8.8 or later; the cluster runs 8.7.1",
        ),
        ("8.8.0", spec(deploymentId="for-search"), None, "start", None),
        (
            "8.12.2",
            spec(adaptiveAllocations=ADAPTIVE_SPEC),
            stats(),
            None,
            "adaptiveAllocations need Elasticsearch 8.16 or later; the cluster runs 8.12.2",
        ),
        (
            "8.15.0",
            spec(adaptiveAllocations=ADAPTIVE_SPEC),
            None,
            None,
            "adaptiveAllocations need Elasticsearch 8.16 or later; the cluster runs 8.15.0",
        ),
        ("8.12.2", spec(adaptiveAllocations={"enabled": False}, numberOfAllocations=3), stats(), "update", None),
        ("8.16.0", spec(adaptiveAllocations=ADAPTIVE_SPEC), stats(), "update", None),
        ("9.1.4", spec(adaptiveAllocations=ADAPTIVE_SPEC), None, "start", None),
        ("9.0.0-SNAPSHOT", spec(numberOfAllocations=4), stats(), "update", None),
    ],
)
def test_versions(
    version: str, raw: Any, obs_stats: Any, expected_action: str | None, stalled_message: str | None
) -> None:
    obs = observation(obs_stats, version=version) if obs_stats else observation(version=version)
    decision = run(raw, obs)
    assert [action.kind for action in decision.actions] == ([expected_action] if expected_action else [])
    stalled = cond(decision, "Stalled")
    if stalled_message is None:
        assert stalled["status"] == "False"
    else:
        assert (stalled["status"], stalled["reason"], stalled["message"]) == (
            "True",
            "UnsupportedElasticsearchVersion",
            stalled_message,
        )
        assert cond(decision, "Ready")["reason"] == "UnsupportedElasticsearchVersion"
    assert decision.status["elasticsearchVersion"] == str(obs.cluster.version) if obs.cluster else True


def test_never_a_no_op_update() -> None:
    """Every combination of spec and ES settings: an update always changes something."""
    es_settings = [None, adaptive(), adaptive(False, 1, 4), adaptive(True, None, None), adaptive(True, 2, 8)]
    spec_settings = [
        None,
        {"enabled": False},
        ADAPTIVE_SPEC,
        {"enabled": True},
        {"enabled": True, "minNumberOfAllocations": 2, "maxNumberOfAllocations": 8},
    ]
    planned = 0
    for es_adaptive in es_settings:
        for spec_adaptive in spec_settings:
            for es_count in (1, 2, 3):
                for spec_count in (1, 2, 3):
                    decision = run(
                        spec(numberOfAllocations=spec_count, adaptiveAllocations=spec_adaptive),
                        observation(
                            stats(
                                number_of_allocations=es_count,
                                adaptive_allocations=es_adaptive,
                                allocation_status=allocation(es_count, es_count),
                            )
                        ),
                    )
                    for action in decision.actions:
                        assert isinstance(action, UpdateDeployment)
                        planned += 1
                        changes_count = (
                            action.number_of_allocations is not None and action.number_of_allocations != es_count
                        )
                        changes_adaptive = action.send_adaptive and action.adaptive != es_adaptive
                        assert changes_count or changes_adaptive, (es_adaptive, spec_adaptive, es_count, spec_count)
                        assert not (
                            action.number_of_allocations is not None and action.adaptive and action.adaptive.enabled
                        )
    # adaptive specs (3): 4 differing ES settings x 9 counts; fixed specs (2): 3 enabled ES settings x 9
    # plus 2 non-enabled ES settings x 6 differing counts.
    assert planned == 3 * 4 * 9 + 2 * (3 * 9 + 2 * 6)


def test_serverless_version_number_is_not_checked() -> None:
    obs = replace(observation(), cluster=ClusterInfo(EsVersion(8, 11, 0), build_flavor="serverless"))
    decision = run(spec(adaptiveAllocations=ADAPTIVE_SPEC, deploymentId="search"), obs)
    assert [action.kind for action in decision.actions] == ["start"]


def test_plan_update_and_is_noop_directly() -> None:
    parsed = parse_spec(spec(numberOfAllocations=2))
    running = stats(number_of_allocations=2)
    assert plan_update(parsed, running) is None
    assert is_noop(UpdateDeployment(MODEL, 2, None, False), running) is True
    assert is_noop(UpdateDeployment(MODEL, 3, None, False), running) is False
    assert is_noop(UpdateDeployment(MODEL, None, adaptive(), True), running) is False
    assert is_noop(UpdateDeployment(MODEL, None, adaptive(), True), stats(adaptive_allocations=adaptive())) is True
    assert is_noop(UpdateDeployment(MODEL, None, None, False), running) is True


def test_switching_adaptive_off_reports_the_adaptive_difference() -> None:
    decision = run(spec(numberOfAllocations=3), observation(stats(adaptive_allocations=adaptive())))
    ready = cond(decision, "Ready")
    assert (ready["reason"], ready["message"]) == (
        "AdaptiveAllocationsDiffer",
        "Elasticsearch has number_of_allocations 2, the spec wants 3 and adaptive allocations "
        "enabled (min 0, max 4), the spec wants disabled",
    )
