"""Changes behind the operator's back: an ML node leaves, the model is deleted, the deployment is stopped."""

from __future__ import annotations

import time
from typing import Any

import pytest

from harness.polling import wait_for
from harness.status import converged
from tests.faults.conftest import RESYNC, Env, PlantedSimulator, condition, deployment, mdep, writes
from tests.support.polls import stats_polls
from tests.support.simulator import DEMO_MODEL


def steady_for(sim: PlantedSimulator, polls: int) -> None:
    """Let ``polls`` more resync passes happen (counted by the simulator's ``_stats`` requests)."""
    target = len(stats_polls(sim)) + polls
    wait_for(lambda: len(stats_polls(sim)) >= target, timeout=polls * RESYNC + 15, what=f"{polls} more polls")


def kibana(sim: PlantedSimulator, action: str, target: str, **params: Any) -> None:
    """What a person does in Kibana: the Elasticsearch API, not the operator (``target``: model or deployment id)."""
    response = sim.es("POST", f"/_ml/trained_models/{target}/deployment/{action}", **params)
    assert response.status_code == 200, response.text


def test_an_ml_node_leaving_is_reported_and_the_count_comes_back(env: Env) -> None:
    sim = env.simulator(nodes=2)  # 2 ML nodes of 4 processors: 8 single-thread allocations fill them
    env.secrets(sim)
    watch = env.watch()
    env.operator()
    env.kube.apply(mdep("ner", sim.local_url, allocations=8))
    wait_for(lambda: converged(env.kube.mdep("ner"), 8), what="8 allocations, Ready")
    left = time.time()
    sim.admin("POST", "nodes/ml-0/_fail", {"mode": "leave"})
    shown = wait_for(
        lambda: (
            (v := watch.latest("ner")) is not None
            and v.status.get("allocations") == 4
            and v.is_("Ready", "False")
            and v
        ),
        timeout=RESYNC + 10,
        what="status showing 4 of 8 allocations",
    )
    ready = shown.condition("Ready")
    assert "4" in ready["message"] and "8" in ready["message"], ready
    assert shown.status["targetAllocations"] == 8 or shown.status.get("allocationState") != "fully_allocated"
    steady_for(sim, 2)
    assert writes(sim, since=left) == []  # nothing to change: Elasticsearch keeps the count of 8 as its target
    sim.admin("POST", "nodes", {"name": "ml-2"})  # a replacement node joins
    wait_for(lambda: converged(env.kube.mdep("ner"), 8), timeout=30, what="8 allocations again")
    assert writes(sim, since=left) == []
    env.record(
        scenario="ML node leaves", faults=1, resources=1, converged=1, detection={"node left": shown.seen - left}
    )


def test_the_model_deleted_under_a_live_deployment(env: Env) -> None:
    sim = env.simulator()
    env.secrets(sim)
    env.operator()
    env.kube.apply(mdep("ner", sim.local_url))
    wait_for(lambda: converged(env.kube.mdep("ner"), 1), what="Ready")
    deleted = time.time()
    response = sim.es("DELETE", f"/_ml/trained_models/{DEMO_MODEL}", force="true")
    assert response.status_code == 200, response.text
    stalled = wait_for(lambda: condition(env.kube, "ner", "Stalled", "True"), timeout=RESYNC + 15, what="Stalled")
    assert stalled["reason"] in ("ModelNotFound", "resource_not_found_exception"), stalled
    assert DEMO_MODEL in stalled["message"], stalled
    steady_for(sim, 4)
    starts = [r for r in writes(sim, since=deleted) if r["path"].endswith("/_start")]
    print(f"model deleted: {stalled}; {len(starts)} _start attempts")
    assert len(starts) <= 3, f"{len(starts)} _start attempts for a missing model: a hot loop"
    assert condition(env.kube, "ner", "Ready", "False") is not None
    sim.admin("POST", "models", {"model_id": DEMO_MODEL})  # uploaded again
    wait_for(lambda: converged(env.kube.mdep("ner"), 1), timeout=60, what="Ready once the model is back")
    assert deployment(sim) is not None
    env.record(
        scenario="model deleted under a live deployment",
        faults=1,
        resources=1,
        converged=1,
        start_attempts_while_missing=len(starts),
    )


@pytest.mark.faults_smoke
def test_a_deployment_stopped_out_of_band_follows_start_policy(env: Env) -> None:
    sim = env.simulator()
    env.secrets(sim)
    kibana(sim, "_start", DEMO_MODEL, deployment_id="dep-adopted", wait_for="started")
    env.operator()
    env.kube.apply(mdep("managed", sim.local_url, deploymentId="dep-managed"))
    env.kube.apply(mdep("adopted", sim.local_url, deploymentId="dep-adopted", startPolicy="Never"))
    for name in ("managed", "adopted"):
        wait_for(lambda n=name: converged(env.kube.mdep(n), 1), what=f"{name} Ready")  # type: ignore[misc]
    stopped = time.time()
    kibana(sim, "_stop", "dep-managed")
    kibana(sim, "_stop", "dep-adopted")
    # IfMissing: started again, once. Never: reported, left alone.
    wait_for(lambda: converged(env.kube.mdep("managed"), 1), timeout=RESYNC + 20, what="managed started again")
    stalled = wait_for(
        lambda: condition(env.kube, "adopted", "Stalled", "True"), timeout=RESYNC + 10, what="adopted Stalled"
    )
    assert stalled["reason"] == "DeploymentNotFound", stalled
    steady_for(sim, 3)
    sent = [(r["path"].split("/")[-1], r["query"].get("deployment_id")) for r in writes(sim, since=stopped)]
    assert sent == [("_start", "dep-managed")], sent
    assert deployment(sim, "dep-adopted") is None
    env.record(scenario="deployment stopped out of band (startPolicy)", faults=2, resources=2, converged=2)
