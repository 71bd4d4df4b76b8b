"""Capacity truth end to end (issue 22): a refused start says by how much and on which resource, then clears."""

from __future__ import annotations

from typing import Any

from harness.polling import wait_for
from harness.status import converged
from tests.e2e.conftest import Kube, model_deployment
from tests.e2e.test_lifecycle import polls, wait_polls
from tests.support.operator import OperatorProcess
from tests.support.simulator import DEMO_MODEL, SimulatorProcess
from tests.unit.test_reconcile_capacity import ISSUE_EXAMPLE


def _other_deployment(simulator: SimulatorProcess) -> None:
    """Another deployment (not a ModelDeployment's) on 4 processors: 1 allocation x 4 threads."""
    other = simulator.es(
        "POST",
        f"/_ml/trained_models/{DEMO_MODEL}/deployment/_start",
        deployment_id="other",
        number_of_allocations="1",
        threads_per_allocation="4",
        wait_for="started",
    )
    assert other.status_code == 200, other.text


def _capacity_requests(simulator: SimulatorProcess) -> int:
    """``GET _ml/memory/_stats`` requests so far (each goes with one ``GET _ml/info``)."""
    memory = len(simulator.requests("/_ml/memory/_stats", method="GET"))
    assert len(simulator.requests("/_ml/info", method="GET")) == memory
    return memory


def _short(kube: Kube, name: str) -> dict[str, Any] | None:
    """The status once it carries capacity numbers and Ready says InsufficientCapacity."""
    status = kube.mdep(name).get("status", {})
    ready = kube.condition(name, "Ready")
    if "capacity" in status and ready and ready["reason"] == "InsufficientCapacity":
        return {**status, "ready": ready}
    return None


def test_a_refused_start_reports_the_processor_shortfall_and_clears_once_a_node_is_added(
    kube: Kube, simulator: SimulatorProcess, es_url: str, es_secrets: dict[str, str], operator: OperatorProcess
) -> None:
    _other_deployment(simulator)  # 2 ML nodes of 4 processors, another deployment takes 4 of them
    kube.apply(model_deployment("ner", es_url, allocations=4, threadsPerAllocation=2, deploymentId="ner"))
    status = wait_for(lambda: _short(kube, "ner"), timeout=60, what="the capacity shortfall in the status")
    capacity = dict(status["capacity"])
    assert capacity.pop("largestFreeMemoryBytes") > capacity.pop("memoryRequiredBytes") > 0  # memory is no limit
    assert capacity == ISSUE_EXAMPLE
    assert status["ready"]["message"] == (
        "Deployment [ner] cannot start 4 allocations: needs 8 processors (4 x 2 threads); ML nodes have 8, 4 used "
        "by other deployments: 4 free. Add 4 processors, or lower numberOfAllocations to 2"
    )
    # While short: at most one _ml/info and one _ml/memory/_stats per resync interval (one _stats poll each).
    before = (polls(simulator), _capacity_requests(simulator))
    wait_polls(simulator, 4)
    after = (polls(simulator), _capacity_requests(simulator))
    assert after[1] > before[1] > 0  # the numbers come from Elasticsearch, asked again each interval
    assert after[1] - before[1] <= after[0] - before[0] + 1, (before, after)
    warnings = [e for e in kube.events("ner") if e["reason"] == "InsufficientCapacity"]
    assert len(warnings) == 1, warnings  # one event for the shortfall, however many retries

    simulator.admin("POST", "nodes", {"processors": 4})
    done = wait_for(lambda: converged(kube.mdep("ner"), 4), timeout=180, what="4 allocations after the node came")
    assert "capacity" not in done
    assert done["vcpus"] == 8
    assert kube.condition("ner", "Stalled")["status"] == "False"  # type: ignore[index]
    # Not short any more: no capacity requests at all.
    asked = _capacity_requests(simulator)
    wait_polls(simulator, 3)
    assert _capacity_requests(simulator) == asked


def _capacity(kube: Kube, name: str, reason: str, factor: str) -> dict[str, Any] | None:
    """The status once Ready has ``reason`` and status.capacity the limiting ``factor``."""
    status = kube.mdep(name).get("status", {})
    ready = kube.condition(name, "Ready")
    capacity = status.get("capacity") or {}
    if ready and ready["reason"] == reason and capacity.get("limitingFactor") == factor:
        return {**status, "ready": ready}
    return None


def test_a_refused_update_reports_its_shortfall(
    kube: Kube, simulator: SimulatorProcess, es_url: str, es_secrets: dict[str, str], operator: OperatorProcess
) -> None:
    manifest = model_deployment("ner", es_url, allocations=2, threadsPerAllocation=2, deploymentId="ner")
    kube.apply(manifest)
    wait_for(lambda: converged(kube.mdep("ner"), 2), timeout=60, what="2 allocations")
    manifest["spec"]["numberOfAllocations"] = 8  # 16 processors on 8
    kube.apply(manifest)
    status = wait_for(lambda: _capacity(kube, "ner", "InsufficientCapacity", "processors"), timeout=60, what="short")
    assert status["ready"]["message"].startswith(
        "Deployment [ner] cannot scale to 8 allocations: needs 16 processors (8 x 2 threads); ML nodes have 8, "
        "0 used by other deployments: 8 free. Add 8 processors, or lower numberOfAllocations to 4"
    )
    assert status["allocations"] == 2  # the refused update changed nothing
    assert status["vcpus"] == 4


def test_a_node_too_small_for_the_threads_per_allocation(
    kube: Kube, simulator: SimulatorProcess, es_url: str, es_secrets: dict[str, str], operator: OperatorProcess
) -> None:
    kube.apply(model_deployment("ner", es_url, allocations=1, threadsPerAllocation=8, deploymentId="ner"))
    status = wait_for(lambda: _capacity(kube, "ner", "InsufficientCapacity", "nodeSize"), timeout=60, what="short")
    assert status["capacity"]["largestFreeProcessorsOnNode"] == 4
    assert "Add ML nodes with at least 8 processors, or lower threadsPerAllocation" in status["ready"]["message"]


def test_a_running_deployment_whose_node_leaves_is_short_of_its_target(
    kube: Kube, simulator: SimulatorProcess, es_url: str, es_secrets: dict[str, str], operator: OperatorProcess
) -> None:
    kube.apply(model_deployment("ner", es_url, allocations=2, threadsPerAllocation=4, deploymentId="ner"))
    wait_for(lambda: converged(kube.mdep("ner"), 2), timeout=60, what="2 allocations, one per node")
    simulator.admin("POST", "nodes/ml-1/_fail", {"mode": "leave"})
    status = wait_for(lambda: _capacity(kube, "ner", "InsufficientCapacity", "processors"), timeout=60, what="short")
    assert status["ready"]["message"].startswith(
        "Deployment [ner] cannot run 2 allocations: needs 8 processors (2 x 4 threads); ML nodes have 4, "
        "0 used by other deployments: 4 free. Add 4 processors, or lower numberOfAllocations to 1"
    )
    simulator.admin("POST", "nodes/ml-1/_restore")
    done = wait_for(lambda: converged(kube.mdep("ner"), 2), timeout=120, what="2 allocations after the node came back")
    assert "capacity" not in done


def test_a_cluster_that_can_scale_is_reported_as_waiting(
    kube: Kube, simulator: SimulatorProcess, es_url: str, es_secrets: dict[str, str], operator: OperatorProcess
) -> None:
    simulator.admin("PUT", "cluster", {"can_scale": True})  # an autoscaled ML tier: starts wait, not refused
    _other_deployment(simulator)
    kube.apply(model_deployment("ner", es_url, allocations=4, threadsPerAllocation=2, deploymentId="ner"))
    status = wait_for(
        lambda: _capacity(kube, "ner", "WaitingForCapacity", "waitingForScaleUp"), timeout=60, what="waiting"
    )
    assert "Waiting for Elasticsearch to add ML capacity (4 processors short)" in status["ready"]["message"]
    assert kube.condition("ner", "Reconciling")["reason"] == "WaitingForCapacity"  # type: ignore[index]
    assert not [e for e in kube.events("ner") if e["type"] == "Warning"]  # waiting is no problem
    simulator.admin("POST", "nodes", {"processors": 4})
    done = wait_for(lambda: converged(kube.mdep("ner"), 4), timeout=120, what="4 allocations once the tier grew")
    assert "capacity" not in done


def test_a_memory_bound_start_reports_the_memory_it_lacks(
    kube: Kube, simulator_factory: Any, operator: OperatorProcess
) -> None:
    # Nodes of 1200 MB ML memory; the demo model needs about 770 MB on each node that runs it.
    simulator: SimulatorProcess = simulator_factory(extra=("--node-memory", "1200mb"))
    kube.secret("es-credentials", {"api_key": simulator.create_api_key()})
    kube.secret("es-ca", {"ca.crt": simulator.ca_pem})
    for other in ("other-a", "other-b"):  # one per node (the second does not fit next to the first)
        started = simulator.es(
            "POST",
            f"/_ml/trained_models/{DEMO_MODEL}/deployment/_start",
            deployment_id=other,
            number_of_allocations="1",
            threads_per_allocation="1",
            wait_for="started",
        )
        assert started.status_code == 200, started.text
    es_url = simulator.url.replace("127.0.0.1", "localhost")
    kube.apply(model_deployment("ner", es_url, allocations=1, deploymentId="ner"))
    status = wait_for(lambda: _capacity(kube, "ner", "InsufficientCapacity", "memory"), timeout=60, what="short")
    capacity = status["capacity"]
    assert capacity["freeProcessors"] == 6  # processors are not what is missing
    assert capacity["shortfallMemoryBytes"] == capacity["memoryRequiredBytes"] - capacity["largestFreeMemoryBytes"] > 0
    assert "of native memory on a node" in status["ready"]["message"]


def test_a_node_shutting_down_is_the_limiting_factor(
    kube: Kube, simulator: SimulatorProcess, es_url: str, es_secrets: dict[str, str], operator: OperatorProcess
) -> None:
    kube.apply(model_deployment("ner", es_url, allocations=2, threadsPerAllocation=4, deploymentId="ner"))
    wait_for(lambda: converged(kube.mdep("ner"), 2), timeout=60, what="2 allocations, one per node")
    simulator.admin("POST", "nodes/ml-1/_shutdown")
    status = wait_for(
        lambda: _capacity(kube, "ner", "InsufficientCapacity", "nodeShuttingDown"), timeout=60, what="short"
    )
    assert status["capacity"]["availableProcessors"] == 4  # the node shutting down takes nothing new
    assert "it would fit but for ML nodes that are shutting down" in status["ready"]["message"]
    simulator.admin("POST", "nodes/ml-1/_restore")
    done = wait_for(lambda: converged(kube.mdep("ner"), 2), timeout=120, what="2 allocations once the node is back")
    assert "capacity" not in done
