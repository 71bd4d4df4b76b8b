"""Property: whatever deployments the planner accepts, ``_ml/memory/_stats`` and ``_ml/info`` describe the
same cluster the planner sees: no node over its ML memory or processors, and the free figures are the ones
the planner's refusals quote."""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from esml_simulator.clock import FakeClock
from esml_simulator.ml.capacity import ScalingSettings, limits, node_memory
from esml_simulator.ml.cluster import ClusterSettings, MlCluster
from esml_simulator.ml.planner import place, usage
from esml_simulator.ml.state import NATIVE_CODE_OVERHEAD, Deployment
from esml_simulator.units import ByteSize
from esml_simulator.versions import EsVersion

MIB = 1024 * 1024

node_st = st.tuples(st.integers(1, 8), st.integers(200, 2048))  # processors, ML memory in MiB
deployment_st = st.tuples(st.sampled_from([1, 2, 4, 8]), st.integers(1, 6), st.integers(100, 900))


def _deployment(index: int, threads: int, allocations: int, memory_mib: int) -> Deployment:
    return Deployment(
        deployment_id=f"d{index}",
        model_id=f"m{index}",
        model_bytes=1000,
        threads=threads,
        number_of_allocations=allocations,
        queue_capacity=10_000,
        cache_size=ByteSize.of_bytes(1000),
        priority="normal",
        memory=memory_mib * MIB,
        per_deployment_memory_bytes=0,
        per_allocation_memory_bytes=0,
        start_time=float(index),
    )


@settings(max_examples=150, deadline=None)
@given(st.lists(node_st, min_size=1, max_size=4), st.lists(deployment_st, min_size=1, max_size=6))
def test_memory_stats_and_limits_agree_with_the_planner(
    nodes: list[tuple[int, int]], deployments: list[tuple[int, int, int]]
) -> None:
    cluster = MlCluster(FakeClock(), EsVersion.parse("9.2.0"), ClusterSettings(allocation_delay=0.0))
    for processors, memory in nodes:
        cluster.add_node(processors, memory * MIB)
    for index, (threads, allocations, memory) in enumerate(deployments):
        dep = _deployment(index, threads, allocations, memory)
        placement = place(cluster.nodes, list(cluster.deployments.values()), dep, allocations)
        if placement.placed == allocations:
            cluster.deployments[dep.deployment_id] = dep
            cluster.apply_additions(dep, placement.added)
    deps = list(cluster.deployments.values())
    table = usage(cluster.nodes, deps)
    for mem in node_memory(cluster.nodes, deps):
        used = mem.native_code_overhead + mem.native_inference
        assert used <= mem.ml_max  # the planner never overcommits a node's memory
        routed = [d for d in deps if mem.node.id in d.routes]
        assert mem.native_inference == sum(d.memory for d in routed)
        assert mem.native_code_overhead == (NATIVE_CODE_OVERHEAD if routed else 0)
        assert mem.free == table[mem.node.id].free_memory
        assert table[mem.node.id].processors_used <= mem.node.processors
    info = limits(ScalingSettings(), cluster.nodes)
    assert info.total_ml_processors == sum(p for p, _ in nodes)
    assert info.max_single_ml_node_processors == max(p for p, _ in nodes)
    assert info.total_ml_memory_mb == sum(m for _, m in nodes)
    assert info.effective_max_model_memory_limit_mb == max(m for _, m in nodes) - NATIVE_CODE_OVERHEAD // MIB
    # a model bigger than every node: the refusal quotes each node's free memory, as memory stats give it
    probe = place(cluster.nodes, deps, _deployment(99, 1, 1, 4096), 1)
    quoted = dict(re.findall(r"node \[([^\]]+)\]\. Reason: .*?free memory \[[^(]*\((\d+)\)\]", probe.explanation or ""))
    assert {node_id: int(free) for node_id, free in quoted.items()} == {
        m.node.id: m.free for m in node_memory(cluster.nodes, deps)
    }
