"""What the ML tier has and what it uses, in ``_ml/info`` and ``_ml/memory/_stats`` terms.

The figures come from the same :func:`~.planner.usage` table the planner places allocations with, so
the numbers a client reads agree with what ``_start``/``_update`` accept:

* a node's ML memory limit (``mem.ml.max``) is ``Node.memory``: the memory the planner's reasons call
  "Available memory for ML";
* ``mem.ml.native_code_overhead`` is the fixed 30 MiB the first model process on a node costs;
* ``mem.ml.native_inference`` is the sum, over deployments routed to the node, of each deployment's
  memory estimate (see :meth:`~.models.TrainedModel.required_native_memory`);
* free native memory on a node = ``max - native_code_overhead - native_inference``.

Scaling (Elasticsearch's own check, as "Machine learning settings" describes it): the tier may grow when
``xpack.ml.max_lazy_ml_nodes`` exceeds the number of ML nodes (horizontal), or when
``xpack.ml.max_ml_node_size`` is set and the smallest ML node is below it (vertical). The simulator's
``can_scale`` flag stands for "scales some other way" (a hosted autoscaler) and also counts.
"""

from __future__ import annotations

from dataclasses import dataclass

from esml_simulator.ml.planner import NodeUsage, usage
from esml_simulator.ml.state import NATIVE_CODE_OVERHEAD, Deployment, Node

MB = 1024 * 1024


@dataclass(frozen=True)
class ScalingSettings:
    can_scale: bool = False
    max_lazy_ml_nodes: int = 0
    max_ml_node_size: int = 0


def assignable(nodes: list[Node]) -> list[Node]:
    """ML nodes new allocations may go to: in the cluster and not shutting down."""
    return [n for n in nodes if n.in_cluster and n.status != "shutting_down"]


def vertical_scaling_possible(settings: ScalingSettings, nodes: list[Node]) -> bool:
    ml = [n for n in nodes if n.in_cluster]
    return settings.max_ml_node_size > 0 and (not ml or min(n.memory for n in ml) < settings.max_ml_node_size)


def scaling_possible(settings: ScalingSettings, nodes: list[Node]) -> bool:
    ml = [n for n in nodes if n.in_cluster]
    return settings.can_scale or settings.max_lazy_ml_nodes > len(ml) or vertical_scaling_possible(settings, nodes)


@dataclass(frozen=True)
class NodeMemory:
    """One node's ``_ml/memory/_stats`` figures, in bytes."""

    node: Node
    ml_max: int
    native_code_overhead: int
    native_inference: int

    @property
    def free(self) -> int:
        return max(0, self.ml_max - self.native_code_overhead - self.native_inference)


def node_memory(nodes: list[Node], deployments: list[Deployment]) -> list[NodeMemory]:
    """Per ML node (in the cluster), sorted by node id."""
    table = usage(nodes, deployments)
    return [_memory(table[node_id]) for node_id in sorted(table)]


def _memory(use: NodeUsage) -> NodeMemory:
    overhead = NATIVE_CODE_OVERHEAD if use.hosts_ml else 0
    return NodeMemory(use.node, use.node.memory, overhead, use.memory_used - overhead)


@dataclass(frozen=True)
class Limits:
    """``_ml/info`` ``limits``: ``None`` where Elasticsearch leaves the field out."""

    max_single_ml_node_processors: int | None
    total_ml_processors: int | None
    effective_max_model_memory_limit_mb: int | None
    total_ml_memory_mb: int


def limits(settings: ScalingSettings, nodes: list[Node]) -> Limits:
    """Elasticsearch's rules (PR 101392 for the processor fields, PR 55529/65195/70473 for memory):

    * processors are given only when they can be known exactly: not while vertical scaling could still
      make nodes bigger, nor when an outside autoscaler (``can_scale``) decides node sizes; the total
      counts the lazy nodes that may still join, each as big as the biggest ML node;
    * ``total_ml_memory`` sums the ML memory of every ML node, in whole MB rounded down;
    * ``effective_max_model_memory_limit`` is the biggest model one node could run with nothing else on
      it (its ML memory less the native code overhead), or a node of ``max_ml_node_size`` if more may join.
    """
    ml = [n for n in nodes if n.in_cluster]
    single: int | None = None
    total: int | None = None
    if ml and not settings.can_scale and not vertical_scaling_possible(settings, nodes):
        single = max(n.processors for n in ml)
        total = sum(n.processors for n in ml) + max(0, settings.max_lazy_ml_nodes - len(ml)) * single
    biggest = max((n.memory for n in ml), default=0)
    if settings.max_ml_node_size > 0 and settings.max_lazy_ml_nodes > len(ml):
        biggest = max(biggest, settings.max_ml_node_size)
    effective = (max(0, biggest - NATIVE_CODE_OVERHEAD) // MB) if biggest > 0 else None
    return Limits(single, total, effective, sum(n.memory for n in ml) // MB)
