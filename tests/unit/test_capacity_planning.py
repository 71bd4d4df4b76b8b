"""The capacity calculation against Elasticsearch's placement rules (see reconcile/capacity.py's docstring)."""

from __future__ import annotations

import re

from hypothesis import given
from hypothesis import strategies as st

from esml_operator.elasticsearch.ml_capacity import MlLimits, MlNodeMemory
from esml_operator.elasticsearch.models import AllocationStatus, ClusterSnapshot, DeploymentStats, NodeRoute
from esml_operator.reconcile import capacity as cap
from esml_operator.reconcile.capacity import Demand, MlNode, assess, message

GIB = 1024**3


def _two_nodes_half_used() -> tuple[tuple[MlNode, ...], dict[str, int]]:
    return (MlNode("a", 4), MlNode("b", 4)), {"a": 4}


def test_the_issue_example_is_short_of_processors() -> None:
    nodes, used = _two_nodes_half_used()
    result = assess(Demand("d", allocations=4, threads=2), nodes, used)
    assert result.limiting == cap.PROCESSORS
    assert (result.required_processors, result.available_processors, result.used_by_others) == (8, 8, 4)
    assert (result.free_processors, result.shortfall_processors, result.fitting_allocations) == (4, 4, 2)
    assert message(result) == (
        "cannot start 4 allocations: needs 8 processors (4 x 2 threads); ML nodes have 8, 4 used by other "
        "deployments: 4 free. Add 4 processors, or lower numberOfAllocations to 2"
    )


def test_it_fits_once_a_node_is_added() -> None:
    nodes, used = _two_nodes_half_used()
    result = assess(Demand("d", allocations=4, threads=2), (*nodes, MlNode("c", 4)), used)
    assert result.limiting is None
    assert not result.short
    assert result.shortfall_processors == 0


def test_an_allocation_never_spans_nodes() -> None:
    # 4 processors free in all, but 2 + 2 on two nodes: a 4-thread allocation fits on neither.
    result = assess(Demand("d", allocations=1, threads=4), (MlNode("a", 4), MlNode("b", 4)), {"a": 2, "b": 2})
    assert result.free_processors == 4
    assert result.fitting_allocations == 0
    assert result.limiting == cap.NODE_SIZE
    assert result.largest_free_on_node == 2


def test_a_node_smaller_than_threads_per_allocation() -> None:
    result = assess(Demand("d", allocations=1, threads=8), (MlNode("a", 4), MlNode("b", 4)), {})
    assert result.limiting == cap.NODE_SIZE
    assert "at least 8 processors" in message(result)


def test_memory_is_counted_per_node() -> None:
    nodes = (MlNode("a", 8, free_memory_bytes=1 * GIB), MlNode("b", 8, free_memory_bytes=1 * GIB))
    result = assess(Demand("d", allocations=1, threads=1, memory_bytes=2 * GIB), nodes, {})
    assert result.limiting == cap.MEMORY
    assert result.shortfall_memory_bytes == 1 * GIB  # 2 GiB free in total does not help: it is needed on one node
    assert "needs 2048 MiB" in message(result)


def test_shutting_down_nodes_take_nothing() -> None:
    nodes = (MlNode("a", 8, shutting_down=True),)
    result = assess(Demand("d", allocations=1, threads=1), nodes, {})
    assert result.limiting == cap.NODE_SHUTTING_DOWN
    assert result.available_processors == 0


def test_a_cluster_that_can_grow_is_waiting() -> None:
    nodes, used = _two_nodes_half_used()
    result = assess(Demand("d", allocations=4, threads=2, scalable=True), nodes, used)
    assert result.limiting == cap.WAITING_FOR_SCALE_UP
    assert "Waiting for Elasticsearch to add ML capacity (4 processors short)" in message(result)


def test_other_deployments_count_but_not_itself_nor_low_priority() -> None:
    snapshot = ClusterSnapshot(
        deployments={
            "d": DeploymentStats(
                "d", "m", threads_per_allocation=2, nodes=(NodeRoute("a", "started", current_allocations=1),)
            ),
            "o": DeploymentStats(
                "o", "m2", threads_per_allocation=2, nodes=(NodeRoute("a", "started", current_allocations=2),)
            ),
            "low": DeploymentStats(
                "low", "m3", priority="low", nodes=(NodeRoute("b", "started", current_allocations=1),)
            ),
        }
    )
    assert cap.used_by_others(snapshot, "d") == {"a": 4}


def _scaling_up_snapshot() -> ClusterSnapshot:
    """ "o" runs 2 of its 4 target allocations (one thread each); the other two are on their way."""
    routes = (NodeRoute("a", "started", current_allocations=1), NodeRoute("b", "started", current_allocations=1))
    status = AllocationStatus(allocation_count=2, target_allocation_count=4, state="started")
    other = DeploymentStats("o", "m", threads_per_allocation=1, allocation_status=status, nodes=routes)
    return ClusterSnapshot(deployments={"o": other})


def test_allocations_on_their_way_hold_their_processors() -> None:
    # Elasticsearch's planner keeps another deployment's target (4), not the 2 it runs at this moment.
    snapshot = _scaling_up_snapshot()
    assert cap.pending_for_others(snapshot, "d") == [(2, 1)]
    assert cap.pending_for_others(snapshot, "o") == []
    memory = (MlNodeMemory("a", "ml-0", 4, 8 * GIB, 0), MlNodeMemory("b", "ml-1", 4, 8 * GIB, 0))
    result = cap.assess_observed(Demand("d", allocations=4, threads=2), snapshot, memory, None)
    assert result is not None
    assert (result.used_by_others, result.free_processors, result.fitting_allocations) == (4, 4, 2)
    assert message(result).endswith(
        "4 used by other deployments: 4 free. Add 4 processors, or lower numberOfAllocations to 2"
    )


def test_a_deployment_at_its_target_reserves_nothing_more() -> None:
    routes = (NodeRoute("a", "started", current_allocations=2),)
    status = AllocationStatus(allocation_count=2, target_allocation_count=2, state="fully_allocated")
    snapshot = ClusterSnapshot(deployments={"o": DeploymentStats("o", "m", allocation_status=status, nodes=routes)})
    assert cap.pending_for_others(snapshot, "d") == []


def test_without_memory_stats_the_ml_info_totals_stand_in() -> None:
    nodes = cap.ml_nodes(None, MlLimits(max_single_ml_node_processors=4, total_ml_processors=8))
    assert [node.processors for node in nodes] == [4, 4]
    assert cap.ml_nodes(None, None) == ()


def test_memory_stats_nodes_are_used_when_known() -> None:
    nodes = cap.ml_nodes((MlNodeMemory("n1", "es-ml-0", 4, 4 * GIB, 1 * GIB),), None, frozenset({"n1"}))
    assert nodes == (MlNode("n1", 4, 3 * GIB, shutting_down=True),)


_NUMBER = re.compile(r"\d+")


@given(
    sizes=st.lists(st.integers(min_value=1, max_value=16), min_size=1, max_size=5),
    used=st.lists(st.integers(min_value=0, max_value=16), min_size=5, max_size=5),
    allocations=st.integers(min_value=1, max_value=32),
    threads=st.sampled_from([1, 2, 4, 8, 16]),
    scalable=st.booleans(),
)
def test_every_message_number_agrees_with_the_fields(
    sizes: list[int], used: list[int], allocations: int, threads: int, scalable: bool
) -> None:
    nodes = tuple(MlNode(f"n{index}", size) for index, size in enumerate(sizes))
    others = {node.node_id: min(node.processors, used[index]) for index, node in enumerate(nodes)}
    result = assess(Demand("d", allocations, threads, scalable=scalable), nodes, others)
    text = message(result)
    head = (
        f"cannot start {result.allocations} allocations: needs {result.required_processors} processors "
        f"({result.allocations} x {result.threads} threads); ML nodes have {result.available_processors}, "
        f"{result.used_by_others} used by other deployments: {result.free_processors} free"
    )
    assert text.startswith(head)
    assert result.required_processors == allocations * threads
    assert result.free_processors == result.available_processors - result.used_by_others
    assert result.fitting_allocations <= allocations
    if result.limiting is None:
        assert result.fitting_allocations == allocations and result.shortfall_processors == 0
    else:
        assert result.shortfall_processors == (allocations - result.fitting_allocations) * threads > 0
    numbers = {int(n) for n in _NUMBER.findall(text)}
    fields = {
        result.allocations,
        result.threads,
        result.required_processors,
        result.available_processors,
        result.used_by_others,
        result.free_processors,
        result.shortfall_processors,
        result.largest_free_on_node,
        result.fitting_allocations,
    }
    assert numbers <= fields


def test_a_node_that_already_runs_the_deployment_has_its_memory() -> None:
    nodes = (MlNode("a", 8, free_memory_bytes=0), MlNode("b", 8, free_memory_bytes=0))
    demand = Demand("d", allocations=2, threads=1, memory_bytes=GIB, hosted_on=frozenset({"a"}))
    result = assess(demand, nodes, {})
    assert result.limiting is None  # both allocations fit on "a", where the model is loaded already
    assert assess(Demand("d", 2, 1, memory_bytes=GIB), nodes, {}).limiting == cap.MEMORY


def test_a_node_any_deployment_reports_shutting_down_takes_nothing_and_is_the_factor() -> None:
    gone = NodeRoute("a", "stopping", reason="node is shutting down", current_allocations=1)
    snapshot = ClusterSnapshot(deployments={"o": DeploymentStats("o", "m", threads_per_allocation=1, nodes=(gone,))})
    memory = (MlNodeMemory("a", None, 4, 8 * GIB, 0), MlNodeMemory("b", None, 4, 8 * GIB, 0))
    result = cap.assess_observed(Demand("d", 2, 4), snapshot, memory, None)
    assert result is not None
    # It would fit but for the node that shuts down.
    assert (result.available_processors, result.fitting_allocations, result.limiting) == (4, 1, cap.NODE_SHUTTING_DOWN)
    assert "it would fit but for ML nodes that are shutting down. Add 4 processors" in message(result)
    more = cap.assess_observed(Demand("d", 3, 4), snapshot, memory, None)  # would not fit with it either
    assert more is not None and more.limiting == cap.PROCESSORS
    everything = cap.assess_observed(Demand("d", 1, 4), snapshot, memory[:1], None)
    assert everything is not None and everything.limiting == cap.NODE_SHUTTING_DOWN
