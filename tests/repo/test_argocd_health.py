"""manifests/argocd: the ModelDeployment health script, run in Lua 5.1 (lupa) as Argo CD runs it.

health_test.yaml and testdata/ follow Argo CD's own layout; the testdata are
ModelDeployments captured from the real operator (tests/e2e/test_argocd_health.py).
"""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

import lupa.lua51 as lua51
import pytest
import yaml

from tests.support.argocd import CUSTOMIZATION, HEALTH_SCRIPT, run_health

REPO = Path(__file__).resolve().parents[2]
CASES = yaml.safe_load((CUSTOMIZATION / "health_test.yaml").read_text())["tests"]
CONDITION_TYPES = ["Ready", "Reconciling", "Stalled", "ElasticsearchReachable"]


def captured(name: str) -> dict[str, Any]:
    return dict(yaml.safe_load((CUSTOMIZATION / "testdata" / f"{name}.yaml").read_text()))


def set_condition(obj: dict[str, Any], kind: str, status: str, reason: str, message: str = "") -> None:
    for condition in obj["status"]["conditions"]:
        if condition["type"] == kind:
            condition.update(status=status, reason=reason, message=message)


@pytest.mark.parametrize("case", CASES, ids=[c["inputPath"] for c in CASES])
def test_argo_cd_health_test_cases(case: dict[str, Any]) -> None:
    obj = yaml.safe_load((CUSTOMIZATION / case["inputPath"]).read_text())
    assert run_health(obj) == case["healthStatus"]


def test_testdata_are_what_the_operator_writes() -> None:
    """Real shapes: the four kstatus conditions with reasons from the operator's vocabulary."""
    for case in CASES:
        obj = yaml.safe_load((CUSTOMIZATION / case["inputPath"]).read_text())
        assert (obj["apiVersion"], obj["kind"]) == ("esml.io/v1alpha1", "ModelDeployment")
        if "status" not in obj:
            continue
        conditions = obj["status"]["conditions"]
        types = [c["type"] for c in conditions]
        # AutoscalerConflict follows the four while an autoscaler targets the resource.
        assert types in (CONDITION_TYPES, [*CONDITION_TYPES, "AutoscalerConflict"]), case["inputPath"]
        for condition in conditions:
            assert condition["status"] in {"True", "False", "Unknown"}
            assert re.fullmatch(r"[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?", condition["reason"])
            assert condition["observedGeneration"] == obj["status"]["observedGeneration"]
    reasons = {c["healthStatus"]["status"]: c for c in CASES}
    assert set(reasons) == {"Healthy", "Progressing", "Degraded", "Suspended"}


# -- the order of the rules -----------------------------------------------------------------------


def test_a_pause_not_yet_observed_is_progressing() -> None:
    obj = captured("healthy")
    obj["spec"]["paused"] = True
    obj["metadata"]["generation"] = 2
    assert run_health(obj) == {
        "status": "Progressing",
        "message": "Waiting for the operator to observe generation 2 (observed 1)",
    }


def test_paused_wins_over_stalled() -> None:
    obj = captured("degraded_deployment_not_found")
    obj["spec"]["paused"] = True
    assert run_health(obj)["status"] == "Suspended"


def test_stalled_wins_over_ready() -> None:
    obj = captured("healthy")
    set_condition(obj, "Stalled", "True", "StartParametersDiffer", "threadsPerAllocation differs")
    assert run_health(obj) == {"status": "Degraded", "message": "StartParametersDiffer: threadsPerAllocation differs"}


def test_not_ready_and_not_reconciling_is_progressing_with_readys_reason() -> None:
    obj = captured("healthy")
    set_condition(obj, "Ready", "Unknown", "AwaitingObservation", "Elasticsearch has not been polled yet")
    assert run_health(obj) == {
        "status": "Progressing",
        "message": "AwaitingObservation: Elasticsearch has not been polled yet",
    }


def test_status_with_only_kopf_bookkeeping_is_progressing() -> None:
    obj = captured("progressing_no_status")
    obj["status"] = {"kopf": {"progress": {}}}
    assert run_health(obj)["message"] == "Waiting for the operator to observe the resource"


def test_ready_without_a_message_shows_its_reason() -> None:
    obj = captured("healthy")
    set_condition(obj, "Ready", "True", "FullyAllocated")
    assert run_health(obj) == {"status": "Healthy", "message": "FullyAllocated"}


def test_an_autoscaler_conflict_on_a_serving_deployment_is_healthy_and_says_so() -> None:
    """The deployment serves; Ready's reason (and Argo CD's message) name the conflict (issue 17 item 7)."""
    obj = captured("healthy")
    message = "Deployment [d] is fully allocated: 1 of 1 allocations; HorizontalPodAutoscaler h targets it"
    set_condition(obj, "Ready", "True", "AutoscalerConflict", message)
    conflict = {**obj["status"]["conditions"][0], "type": "AutoscalerConflict", "reason": "AdaptiveAllocationsEnabled"}
    obj["status"]["conditions"].append(conflict)
    assert run_health(obj) == {"status": "Healthy", "message": f"AutoscalerConflict: {message}"}


# -- the harness is a real, sandboxed Lua 5.1 -------------------------------------------------------


def test_scripts_run_in_lua_5_1_without_io_or_os() -> None:
    assert run_health({}, script='return {status = "Healthy", message = _VERSION}')["message"] == "Lua 5.1"
    with pytest.raises(lua51.LuaError):
        run_health({}, script='os.exit(1) return {status = "Healthy"}')
    with pytest.raises(AssertionError, match="not an Argo CD health status"):
        run_health({}, script='return {status = "Fine"}')


def test_lists_are_one_based_as_in_argo_cd() -> None:
    script = 'return {status = "Healthy", message = obj.status.conditions[1].type .. #obj.status.conditions}'
    assert run_health(captured("healthy"), script=script)["message"] == "Ready4"


def test_a_broken_script_fails_the_cases() -> None:
    """The parametrized cases can fail: a script that ignores Stalled misjudges the degraded ones."""
    broken = HEALTH_SCRIPT.read_text().replace('stalled.status == "True"', 'stalled.status == "Never"')
    obj = copy.deepcopy(captured("degraded_secret_not_found"))
    assert run_health(obj, script=broken)["status"] == "Progressing"
