"""decide with capacity numbers: status.capacity, status.vcpus, Ready's InsufficientCapacity/WaitingForCapacity."""

from __future__ import annotations

from dataclasses import replace

from esml_operator.elasticsearch import errors as es
from esml_operator.elasticsearch.ml_capacity import MlCapacity, MlLimits, MlNodeMemory
from esml_operator.elasticsearch.models import NodeRoute
from esml_operator.reconcile import Observation
from esml_operator.reconcile.shortfall import wanted
from tests.unit.reconcile_helpers import (
    MODEL,
    REF,
    allocation,
    assignment,
    cond,
    failure,
    observation,
    run,
    spec,
    stats,
)

GIB = 1024**3
NODES = (MlNodeMemory("node-a", "es-ml-0", 4, 8 * GIB, 0), MlNodeMemory("node-b", "es-ml-1", 4, 8 * GIB, 0))
OTHER = stats(
    deployment_id="other",
    model_id="other-model",
    threads_per_allocation=4,
    allocation_status=allocation(1, 1),
    nodes=(NodeRoute("node-a", "started", current_allocations=1),),
)
#: status.capacity of the issue's example (4 allocations x 2 threads, 8 processors, 4 used by another deployment),
#: but for the memory figure, which depends on the nodes.
ISSUE_EXAMPLE = {
    "requiredProcessors": 8,
    "availableProcessors": 8,
    "usedByOtherDeployments": 4,
    "freeProcessors": 4,
    "shortfallProcessors": 4,
    "largestFreeProcessorsOnNode": 4,
    "threadsPerAllocation": 2,
    "fittingAllocations": 2,
    "shortfallMemoryBytes": 0,
    "limitingFactor": "processors",
}
#: What Elasticsearch says about a deployment it cannot place in full.
UNPLACED = (
    "Could not assign (more) allocations on node [node-a]. Reason: This node has insufficient allocated processors. "
    "Available processors [4], free processors [0], processors required for each allocation of this model [2]"
)
REFUSED = es.TooManyRequestsError(
    "Could not start deployment because there are not enough resources to provide all requested allocations",
    status=429,
    error_type="status_exception",
)


def _refused(facts: MlCapacity | None) -> Observation:
    obs = observation(OTHER, last_failure=failure(REFUSED, "start"))
    return replace(obs, capacity=facts)


def test_a_refused_start_is_explained_with_the_numbers() -> None:
    decision = run(spec(numberOfAllocations=4, threadsPerAllocation=2), _refused(MlCapacity(nodes=NODES)))
    assert decision.status["capacity"] == {**ISSUE_EXAMPLE, "largestFreeMemoryBytes": 8 * GIB}
    ready = cond(decision, "Ready")
    assert (ready["status"], ready["reason"]) == ("False", "InsufficientCapacity")
    assert ready["message"] == (
        f"Deployment [{MODEL}] cannot start 4 allocations: needs 8 processors (4 x 2 threads); ML nodes have 8, 4 "
        "used by other deployments: 4 free. Add 4 processors, or lower numberOfAllocations to 2"
    )
    assert [(event.type, event.reason) for event in decision.events] == [("Warning", "InsufficientCapacity")]


def test_the_event_comes_again_only_when_the_shortfall_changes() -> None:
    raw = spec(numberOfAllocations=4, threadsPerAllocation=2)
    first = run(raw, _refused(MlCapacity(nodes=NODES)))
    # Another deployment's figure moves, the shortfall does not: same message, no new event.
    more = (*NODES, MlNodeMemory("node-c", "es-ml-2", 1, 8 * GIB, 0))  # 9 processors, still 4 short
    again = run(raw, _refused(MlCapacity(nodes=more)), previous=first.status)
    assert again.status["capacity"]["availableProcessors"] == 9
    assert again.status["capacity"]["shortfallProcessors"] == 4
    assert cond(again, "Ready")["message"] == cond(first, "Ready")["message"]
    assert again.events == ()
    # The shortfall changes: a new message and one event.
    smaller = (NODES[0], replace(NODES[1], processors=2))
    worse = run(raw, _refused(MlCapacity(nodes=smaller)), previous=first.status)
    assert worse.status["capacity"]["shortfallProcessors"] == 6
    assert [event.reason for event in worse.events] == ["InsufficientCapacity"]


def test_a_running_deployment_short_of_its_target() -> None:
    mine = stats(
        allocation_status=allocation(1, 2),
        reason=UNPLACED,
        threads_per_allocation=4,
        nodes=(NodeRoute("node-b", "started", current_allocations=1),),
    )
    obs = replace(observation(mine, OTHER), capacity=MlCapacity(nodes=NODES))
    decision = run(spec(threadsPerAllocation=4), obs)
    assert decision.status["vcpus"] == 4
    assert decision.status["capacity"]["limitingFactor"] == "processors"
    assert cond(decision, "Ready")["message"].startswith(f"Deployment [{MODEL}] cannot run 2 allocations")


def test_an_accepted_start_without_allocations_waits_for_scale_up() -> None:
    starting = stats(
        state="starting", allocation_status=allocation(0, 4), threads_per_allocation=2, nodes=(), reason=UNPLACED
    )
    obs = replace(observation(starting, OTHER), capacity=MlCapacity(nodes=NODES))
    decision = run(spec(numberOfAllocations=4, threadsPerAllocation=2), obs)
    ready = cond(decision, "Ready")
    assert ready["reason"] == "WaitingForCapacity"
    assert cond(decision, "Reconciling")["reason"] == "WaitingForCapacity"
    assert decision.status["capacity"]["limitingFactor"] == "waitingForScaleUp"
    assert not [event for event in decision.events if event.type == "Warning"]


def test_without_monitor_ml_the_message_says_so_and_keeps_todays_reason() -> None:
    problem = "GET _ml/info was refused (grant the monitor_ml cluster privilege for the numbers)"
    decision = run(spec(numberOfAllocations=4, threadsPerAllocation=2), _refused(MlCapacity(problem=problem)))
    ready = cond(decision, "Ready")
    assert ready["reason"] == "status_exception"
    assert ready["message"].endswith(f"; capacity numbers unavailable: {problem}")
    assert "capacity" not in decision.status


def test_numbers_are_wanted_only_while_short() -> None:
    assert not wanted(observation(stats()), MODEL, REF.generation)
    assert wanted(observation(stats(allocation_status=allocation(1, 2), reason=UNPLACED)), MODEL, REF.generation)
    # Allocations on their way (no reason from Elasticsearch): no extra requests.
    assert not wanted(observation(stats(allocation_status=allocation(1, 2))), MODEL, REF.generation)
    assert wanted(_refused(None), MODEL, REF.generation)
    old = observation(last_failure=failure(REFUSED, "start", generation=REF.generation - 1))
    assert not wanted(old, MODEL, REF.generation)


def test_a_fitting_deployment_has_no_capacity_status() -> None:
    decision = run(obs=replace(observation(stats()), capacity=MlCapacity(nodes=NODES)))
    assert "capacity" not in decision.status
    assert cond(decision, "Ready")["reason"] == "FullyAllocated"


def test_an_update_accepted_with_fewer_planned_allocations_is_waiting_for_scale_up() -> None:
    mine = stats(
        allocation_status=allocation(2, 4),
        reason=UNPLACED,
        threads_per_allocation=2,
        nodes=(NodeRoute("node-b", "started", current_allocations=2),),
    )
    accepted = assignment(4, {"node-b": (2, 2)})  # asked for 4, planned 2: Elasticsearch waits for capacity
    obs = replace(observation(mine, OTHER, last_assignment=accepted), capacity=MlCapacity(nodes=NODES))
    decision = run(spec(numberOfAllocations=4, threadsPerAllocation=2), obs)
    assert cond(decision, "Ready")["reason"] == "WaitingForCapacity"
    assert decision.status["capacity"]["limitingFactor"] == "waitingForScaleUp"


def test_lazy_ml_nodes_in_ml_info_mean_waiting() -> None:
    mine = stats(
        allocation_status=allocation(2, 4),
        reason=UNPLACED,
        threads_per_allocation=2,
        nodes=(NodeRoute("node-b", "started", current_allocations=2),),
    )
    lazy = MlLimits(max_single_ml_node_processors=4, total_ml_processors=16)  # 8 now, 2 lazy nodes may join
    for limits, reason in (
        (lazy, "WaitingForCapacity"),
        (replace(lazy, total_ml_processors=8), "InsufficientCapacity"),
    ):
        obs = replace(observation(mine, OTHER), capacity=MlCapacity(limits=limits, nodes=NODES))
        decision = run(spec(numberOfAllocations=4, threadsPerAllocation=2), obs)
        assert cond(decision, "Ready")["reason"] == reason


def test_memory_bound_when_no_node_with_processors_has_the_models_memory() -> None:
    full = tuple(replace(node, used_bytes=node.ml_max_bytes - GIB) for node in NODES)  # 1 GiB free on each
    obs = _refused(MlCapacity(nodes=full))
    obs = replace(obs, snapshot=replace(obs.snapshot, model_memory={MODEL: 2 * GIB}))  # type: ignore[arg-type]
    decision = run(spec(numberOfAllocations=1), obs)
    capacity = decision.status["capacity"]
    assert (capacity["limitingFactor"], capacity["memoryRequiredBytes"]) == ("memory", 2 * GIB)
    assert capacity["shortfallMemoryBytes"] == GIB
    assert (
        "the model needs 2048 MiB of native memory on a node and the most free on one node is 1024 MiB"
        in (cond(decision, "Ready")["message"])
    )
